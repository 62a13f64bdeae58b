using Microsoft.Extensions.Configuration;
using Scarcity.Actors.Configuration;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Configuration;

public sealed class TlsConfigSpecs
{
    private static DRGConfig Load(params (string Key, string Value)[] values) =>
        DRGConfig.Load(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build());

    [Fact]
    public void TLS_is_off_by_default_and_addresses_are_plain_tcp()
    {
        var cluster = Load().Cluster;

        Assert.False(cluster.Tls.Enabled);
        Assert.Null(cluster.Tls.ToOptions());
        Assert.Equal("akka.tcp", cluster.Scheme);
        Assert.Equal(TimeSpan.Zero, cluster.DownRemovalMargin);
    }

    [Fact]
    public void Enabled_TLS_binds_its_keys_into_the_transports_options_and_uses_ssl_addresses()
    {
        var cluster = Load(
            ("Scarcity:Cluster:Tls:Enabled", "true"),
            ("Scarcity:Cluster:Tls:CertificatePath", "certs/node1.pfx"),
            ("Scarcity:Cluster:Tls:CertificatePassword", "secret"),
            ("Scarcity:Cluster:Tls:CaCertificatePath", "certs/ca.pem"),
            ("Scarcity:Cluster:Tls:RequireMutualAuthentication", "false"),
            ("Scarcity:Cluster:SeedNodes:0", "akka.ssl.tcp://scarcity@10.0.0.1:4053"),
            ("Scarcity:Cluster:DownRemovalMargin", "00:00:03")).Cluster;

        var options = cluster.Tls.ToOptions()!;
        Assert.Equal(("certs/node1.pfx", "secret", "certs/ca.pem", false, false),
            (options.CertificatePath, options.CertificatePassword, options.CaCertificatePath, options.RequireMutualAuthentication, options.ValidateHostname));
        Assert.Equal("akka.ssl.tcp", cluster.Scheme);
        Assert.Equal(TimeSpan.FromSeconds(3), cluster.DownRemovalMargin);
    }

    [Fact]
    public void Enabled_TLS_without_a_certificate_or_with_plain_seeds_is_refused_naming_each_key()
    {
        var error = Assert.Throws<DRGConfigException>(() => Load(
            ("Scarcity:Cluster:Tls:Enabled", "true"),
            ("Scarcity:Cluster:SeedNodes:0", "akka.tcp://scarcity@10.0.0.1:4053"),
            ("Scarcity:Cluster:DownRemovalMargin", "-00:00:01")));

        Assert.Contains(error.Errors, e => e.StartsWith("Scarcity:Cluster:Tls:CertificatePath is empty"));
        Assert.Contains(error.Errors, e => e.Contains("Scarcity:Cluster:SeedNodes:0 'akka.tcp://scarcity@10.0.0.1:4053' is not an akka.ssl.tcp:// address (Scarcity:Cluster:Tls:Enabled is true)"));
        Assert.Contains(error.Errors, e => e.StartsWith("Scarcity:Cluster:DownRemovalMargin must not be negative"));
    }
}
