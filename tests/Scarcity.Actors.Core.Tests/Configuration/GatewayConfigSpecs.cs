using Microsoft.Extensions.Configuration;
using Scarcity.Actors.Configuration;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Configuration;

/// <summary><c>Scarcity:Gateway</c> as the Host binds it: defaults, keys, and every problem named by key at start-up.</summary>
public sealed class GatewayConfigSpecs
{
    private static DRGConfig Load(params (string Key, string Value)[] values) =>
        DRGConfig.Load(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build());

    [Fact]
    public void The_gateway_defaults_to_cleartext_on_loopback_port_50051_without_a_token()
    {
        var gateway = Load().Gateway;

        Assert.True(gateway.Enabled);
        Assert.Equal(50051, gateway.Port);
        Assert.Equal("127.0.0.1", gateway.Address);
        Assert.False(gateway.UsesTls);
        Assert.False(gateway.RequiresToken);
        Assert.Null(gateway.ResolveBearerToken());
        Assert.Equal(65536, gateway.MaxMessageBytes);
        Assert.Equal(20, gateway.MaxReportsPerSecond);
    }

    [Fact]
    public void Its_keys_bind_and_a_disabled_gateway_is_not_checked_further()
    {
        var gateway = Load(("Scarcity:Gateway:Port", "6000"), ("Scarcity:Gateway:Address", "*"), ("Scarcity:Gateway:BearerToken", "t0k3n"),
            ("Scarcity:Gateway:MaxReportsPerSecond", "8"), ("Scarcity:Gateway:RequestTimeout", "00:00:03")).Gateway;

        Assert.Equal(6000, gateway.Port);
        Assert.Equal("*", gateway.Address);
        Assert.Equal("t0k3n", gateway.ResolveBearerToken());
        Assert.Equal(8, gateway.MaxReportsPerSecond);
        Assert.Equal(TimeSpan.FromSeconds(3), gateway.RequestTimeout);
        Assert.False(Load(("Scarcity:Gateway:Enabled", "false"), ("Scarcity:Gateway:Port", "0")).Gateway.Enabled);
    }

    [Fact]
    public void A_misspelt_key_and_bad_values_stop_start_up_naming_each_key()
    {
        var error = Assert.Throws<DRGConfigException>(() => Load(
            ("Scarcity:Gateway:Prot", "50051"), ("Scarcity:Gateway:Port", "0"), ("Scarcity:Gateway:CertificateKeyPath", "/tmp/key.pem"),
            ("Scarcity:Gateway:StreamQueueCapacity", "1"), ("Scarcity:Gateway:RegisterInterval", "00:00:00")));

        Assert.Contains(error.Errors, e => e.Contains("Scarcity:Gateway:Prot", StringComparison.Ordinal));
        Assert.Contains("Scarcity:Gateway:Port must be in 1..65535, was 0 (turn the gateway off with Scarcity:Gateway:Enabled=false)", error.Errors);
        Assert.Contains("Scarcity:Gateway:CertificateKeyPath is set but Scarcity:Gateway:CertificatePath is empty", error.Errors);
        Assert.Contains("Scarcity:Gateway:StreamQueueCapacity must be in 8..1000000, was 1", error.Errors);
        Assert.Contains("Scarcity:Gateway:RegisterInterval must be between 00:00:00.100 and 00:01:00, was 00:00:00", error.Errors);
    }

    [Fact]
    public void The_three_node_files_give_each_node_its_own_gateway_port()
    {
        var ports = new[] { "node1", "node2", "node3", "sensor-only" }
            .Select(n => DRGConfig.Load(new ConfigurationBuilder().AddJsonFile(Path.Combine(RepoPaths.Root, "cluster-config", "three-node", $"{n}.json")).Build()).Gateway.Port)
            .ToList();

        Assert.Equal([50051, 50052, 50053, 50054], ports);
    }
}
