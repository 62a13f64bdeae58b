using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Testing;
using Xunit;

namespace Scarcity.Actors.Client.Tests;

/// <summary>
/// A subsystem whose TLS settings cannot work with the governor's: Akka.Remote (1.5.50 and later) stops an actor system
/// whose own TLS handshake fails, and the client then says so at once instead of waiting out the registration timeout.
/// </summary>
public sealed class GovernedSubsystemTlsSpecs : IClassFixture<TestCertificates>
{
    private readonly TestCertificates _certs;

    public GovernedSubsystemTlsSpecs(TestCertificates certs) => _certs = certs;

    [Fact]
    public async Task A_client_that_does_not_trust_the_governors_certificate_fails_its_wait_at_once_naming_the_TLS_settings()
    {
        // The far end: a remoting endpoint with a certificate from the test CA, as a governor node presents.
        var server = new RemotingTlsOptions(_certs["node1.pfx"], TestCertificates.Password, _certs["ca.pem"]);
        var port = GovernorHost.FreePort();
        var config = ConfigurationFactory.ParseString($$"""
            akka.actor.provider = remote
            akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = {{port}} }
            {{RemotingTls.Hocon(server)}}
            """);
        using var governor = ActorSystem.Create("scarcity", RemotingTls.Apply(ActorSystemSetup.Create(BootstrapSetup.Create().WithConfig(config)), server));

        // The client trusts another CA only: its own side of the handshake refuses the governor's certificate.
        await using var client = GovernedSubsystem.Start(new GovernedSubsystemOptions
        {
            Name = "tls-engine",
            Host = "spec-host",
            Contacts = [$"akka.tcp://scarcity@127.0.0.1:{port}"], // dialled as akka.ssl.tcp:// with TLS on
            Tls = new RemotingTlsOptions(_certs["client.pfx"], TestCertificates.Password, _certs["rogue-ca.pem"]),
        }.On("reduce_batch", (_, _) => { }));

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => client.WaitUntilRegisteredAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("a TLS handshake with the governor failed", error.Message);
        Assert.Contains("GovernedSubsystemOptions.Tls", error.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(45), $"the wait failed only after {clock.Elapsed.TotalSeconds:0} s");
        Assert.Equal(error.Message, client.LastError);
        Assert.False(client.IsRegistered);
    }
}
