using System.Diagnostics;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Xunit;

namespace Scarcity.Actors.Contracts.Tests;

/// <summary>
/// <see cref="RemotingTls"/> on certificates made by scripts/make-test-certs.sh: what a node accepts, what it refuses,
/// and the messages a bad file gets.
/// </summary>
public sealed class RemotingTlsSpecs : IClassFixture<RemotingTlsSpecs.Certificates>
{
    private const string Password = "scarcity-test";
    private readonly Certificates _certs;

    public RemotingTlsSpecs(Certificates certs) => _certs = certs;

    /// <summary>A test CA and certificates in a temporary folder, made once for the class by the script operators use.</summary>
    public sealed class Certificates : IDisposable
    {
        public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("scarcity-tls-specs-").FullName;

        public Certificates()
        {
            var root = new DirectoryInfo(AppContext.BaseDirectory);
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "Scarcity.Actors.sln"))) root = root.Parent;
            var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add(Path.Combine(root!.FullName, "scripts", "make-test-certs.sh"));
            psi.ArgumentList.Add(Directory);
            psi.Environment["SCARCITY_TLS_PASSWORD"] = Password;
            using var process = Process.Start(psi)!;
            var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0) throw new InvalidOperationException($"make-test-certs.sh failed: {output}");
        }

        public string this[string name] => Path.Combine(Directory, name);

        public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
    }

    private bool Accepts(RemotingTlsOptions options, string peerPem, SslPolicyErrors errors = SslPolicyErrors.RemoteCertificateChainErrors)
    {
        var setup = RemotingTls.CreateSetup(options);
        using var peer = X509CertificateLoader.LoadCertificateFromFile(_certs[peerPem]);
        return setup.CustomValidator!(peer, new X509Chain(), "peer", errors, NoLogger.Instance);
    }

    [Fact]
    public void A_node_accepts_a_peer_certificate_from_its_CA_and_refuses_one_from_another_CA_or_none()
    {
        var node1 = new RemotingTlsOptions(_certs["node1.pfx"], Password, _certs["ca.pem"]);

        Assert.True(Accepts(node1, "node2.pem"));
        Assert.True(Accepts(node1, "cli.pem"));
        Assert.False(Accepts(node1, "rogue.pem"));
        Assert.False(RemotingTls.CreateSetup(node1).CustomValidator!(null!, new X509Chain(), "peer", SslPolicyErrors.RemoteCertificateNotAvailable, NoLogger.Instance));
    }

    [Fact]
    public void Without_a_CA_file_only_the_machines_trust_store_counts_so_the_test_CA_is_refused()
    {
        var node1 = new RemotingTlsOptions(_certs["node1.pfx"], Password);

        Assert.False(Accepts(node1, "node2.pem"));
        Assert.True(Accepts(node1, "node2.pem", SslPolicyErrors.None)); // what the platform says of a publicly trusted one
    }

    [Fact]
    public void The_setup_carries_the_certificate_with_its_key_validation_on_and_mutual_authentication_by_default()
    {
        var setup = RemotingTls.CreateSetup(new RemotingTlsOptions(_certs["node1.pfx"], Password, _certs["ca.pem"]));

        Assert.True(setup.Certificate.HasPrivateKey);
        Assert.Contains("CN=node1", setup.Certificate.Subject);
        Assert.False(setup.SuppressValidation);
        Assert.True(setup.RequireMutualAuthentication);
        Assert.Contains("enable-ssl = on", RemotingTls.Hocon(new RemotingTlsOptions("x")));
    }

    [Theory]
    [InlineData("node1.pfx", "wrong", "ca.pem", "node1.pfx' cannot be read as PKCS#12 (wrong password?)")]
    [InlineData("missing.pfx", Password, "ca.pem", "missing.pfx' does not exist")]
    [InlineData("node1.pem", Password, "ca.pem", "node1.pem' cannot be read as PKCS#12")]
    [InlineData("node1.pfx", Password, "missing.pem", "TLS CA certificate")]
    [InlineData("node1.pfx", Password, "node1.key", "holds no certificate")]
    public void An_unusable_file_is_refused_naming_it(string certificate, string password, string ca, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => RemotingTls.CreateSetup(new RemotingTlsOptions(_certs[certificate], password, _certs[ca])));

        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData("akka.tcp://scarcity@10.0.0.1:4053", true, "akka.ssl.tcp://scarcity@10.0.0.1:4053")]
    [InlineData("akka.ssl.tcp://scarcity@10.0.0.1:4053/system/receptionist", false, "akka.tcp://scarcity@10.0.0.1:4053/system/receptionist")]
    [InlineData("akka.ssl.tcp://scarcity@10.0.0.1:4053", true, "akka.ssl.tcp://scarcity@10.0.0.1:4053")]
    [InlineData("10.0.0.1:4053", true, "10.0.0.1:4053")]
    public void An_address_gets_the_scheme_that_matches_TLS(string address, bool tls, string expected) =>
        Assert.Equal(expected, RemotingTls.WithScheme(address, tls));
}
