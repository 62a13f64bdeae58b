using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Configuration;

/// <summary>
/// TLS for remoting between governor nodes, subsystems and the CLI (Akka.Remote's DotNetty TLS, validation on). Every
/// node presents <see cref="CertificatePath"/> and accepts a peer only when the peer's certificate chains to
/// <see cref="CaCertificatePath"/>; with <see cref="RequireMutualAuthentication"/> (the default) a peer without such a
/// certificate cannot connect at all. Node addresses then use the <c>akka.ssl.tcp://</c> scheme. Off by default.
/// <c>scripts/make-test-certs.sh</c> makes a test CA and certificates; see docs/operations.md.
/// </summary>
public sealed class TlsConfig : IValidatedConfig
{
    /// <summary>The configuration section these settings are bound from.</summary>
    public const string Section = "Scarcity:Cluster:Tls";

    /// <summary>Whether remoting uses TLS. <value>false</value></summary>
    public bool Enabled { get; set; }

    /// <summary>This node's certificate with its private key: a PKCS#12 file (<c>.pfx</c>). Required when enabled. <value>empty</value></summary>
    public string CertificatePath { get; set; } = "";

    /// <summary>
    /// The PFX password; empty for none. Prefer the environment (<c>Scarcity__Cluster__Tls__CertificatePassword</c>) to a
    /// file. <value>empty</value>
    /// </summary>
    public string CertificatePassword { get; set; } = "";

    /// <summary>
    /// PEM file of the CA whose certificates this node accepts from its peers; empty: the machine's trust store.
    /// <value>empty</value>
    /// </summary>
    public string CaCertificatePath { get; set; } = "";

    /// <summary>Whether a node requires a certificate of whoever connects to it (nodes, subsystems, the CLI). <value>true</value></summary>
    public bool RequireMutualAuthentication { get; set; } = true;

    /// <summary>
    /// Whether a connecting node checks that the peer's certificate names the host it dialled (CN or SAN); off because
    /// nodes are usually dialled by address and carry per-node names. <value>false</value>
    /// </summary>
    public bool ValidateHostname { get; set; }

    /// <summary>The options <see cref="RemotingTls"/> builds the transport's setup from; null when TLS is off.</summary>
    public RemotingTlsOptions? ToOptions() => Enabled
        ? new RemotingTlsOptions(CertificatePath, CertificatePassword, CaCertificatePath.Length > 0 ? CaCertificatePath : null,
            RequireMutualAuthentication, ValidateHostname)
        : null;

    /// <summary>Every problem with this configuration, each naming its key.</summary>
    public IEnumerable<string> Validate(string section = Section)
    {
        if (!Enabled) yield break;
        if (string.IsNullOrWhiteSpace(CertificatePath))
            yield return $"{section}:CertificatePath is empty: give this node's certificate with its key (a .pfx), e.g. from scripts/make-test-certs.sh";
        // Whether the files exist and open is checked when the node starts (the message names the key and the file), so
        // that a configuration can be validated offline on a machine without the certificates.
    }
}
