using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor.Setup;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;

namespace Scarcity.Actors.Contracts;

/// <summary>
/// TLS for remoting (Akka.Remote's DotNetty transport with <c>enable-ssl</c>): what a governor node, a subsystem
/// (<c>Scarcity.Actors.Client</c>) and the CLI present and whom they accept. Each side presents its certificate (a PFX
/// with its private key) and accepts a peer only when the peer's certificate chains to <see cref="CaCertificatePath"/>
/// (or, without one, to the machine's trust store). Mutual authentication is on by default: a node accepts no
/// connection whose other end shows no certificate from the CA.
/// </summary>
/// <param name="CertificatePath">This process's certificate and private key, a PKCS#12 file (<c>.pfx</c>/<c>.p12</c>).</param>
/// <param name="CertificatePassword">The PFX password; null or empty for none.</param>
/// <param name="CaCertificatePath">
/// PEM file of the certificate authority (or authorities) whose certificates are accepted; null: the machine's trust
/// store (a public or corporate CA).
/// </param>
/// <param name="RequireMutualAuthentication">Whether the accepting side requires a certificate of the connecting side. <value>true</value></param>
/// <param name="ValidateHostname">Whether a connecting side checks that the peer's certificate names the host it dialled (CN/SAN). <value>false</value></param>
public sealed record RemotingTlsOptions(
    string CertificatePath,
    string? CertificatePassword = null,
    string? CaCertificatePath = null,
    bool RequireMutualAuthentication = true,
    bool ValidateHostname = false);

/// <summary>Builds the actor-system setup and HOCON of <see cref="RemotingTlsOptions"/>; the address scheme that goes with it.</summary>
public static class RemotingTls
{
    /// <summary>The scheme of a node's address without TLS.</summary>
    public const string PlainScheme = "akka.tcp";

    /// <summary>The scheme of a node's address with TLS: DotNetty names its transport <c>ssl.tcp</c>.</summary>
    public const string TlsScheme = "akka.ssl.tcp";

    /// <summary>The words every rejected peer's log line starts with, so an operator (and a spec) can find it.</summary>
    public const string HandshakeFailed = "TLS handshake failed";

    /// <summary><see cref="TlsScheme"/> when <paramref name="tls"/>, else <see cref="PlainScheme"/>.</summary>
    public static string Scheme(bool tls) => tls ? TlsScheme : PlainScheme;

    /// <summary>
    /// <paramref name="address"/> (a node address or an actor path) with the scheme that matches <paramref name="tls"/>:
    /// <c>akka.tcp://scarcity@h:p</c> becomes <c>akka.ssl.tcp://scarcity@h:p</c> and back. Anything else is returned as is.
    /// </summary>
    public static string WithScheme(string address, bool tls)
    {
        var (from, to) = tls ? (PlainScheme + "://", TlsScheme + "://") : (TlsScheme + "://", PlainScheme + "://");
        return address.StartsWith(from, StringComparison.Ordinal) ? to + address[from.Length..] : address;
    }

    /// <summary>The HOCON that turns TLS on for the DotNetty transport, with validation on.</summary>
    public static string Hocon(RemotingTlsOptions options) => $$"""
        akka.remote.dot-netty.tcp {
          enable-ssl = on
          ssl {
            suppress-validation = off
            require-mutual-authentication = {{(options.RequireMutualAuthentication ? "on" : "off")}}
            validate-certificate-hostname = {{(options.ValidateHostname ? "on" : "off")}}
          }
        }
        """;

    /// <summary>
    /// The transport's setup: this process's certificate and a validator that accepts a peer only when its certificate
    /// chains to the configured CA (and, with <see cref="RemotingTlsOptions.ValidateHostname"/>, names the host dialled).
    /// A rejected peer is logged as a warning starting with <see cref="HandshakeFailed"/>, naming the peer and why.
    /// </summary>
    /// <exception cref="ArgumentException">A file is missing or unreadable, the password is wrong, or the certificate has no private key; the message names the file.</exception>
    public static DotNettySslSetup CreateSetup(RemotingTlsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var certificate = LoadCertificate(options.CertificatePath, options.CertificatePassword);
        var authorities = options.CaCertificatePath is { Length: > 0 } caPath ? LoadAuthorities(caPath) : null;
        CertificateValidationCallback validator = (peer, chain, remotePeer, errors, log) =>
            Accept(peer, errors, authorities, options, remotePeer, log);
        return new DotNettySslSetup(certificate, suppressValidation: false, options.RequireMutualAuthentication,
            options.ValidateHostname, validator);
    }

    /// <summary>
    /// Whether Akka stopped the actor system because a TLS handshake it started failed (Akka.Remote 1.5.50 and later run
    /// CoordinatedShutdown with this reason, exit code 79).
    /// </summary>
    public static bool IsHandshakeFailure(Akka.Actor.CoordinatedShutdown.Reason? reason) =>
        reason?.GetType().Name == "TlsHandshakeFailureReason"; // the type is internal to Akka.Remote

    /// <summary>The setup and HOCON of <paramref name="options"/> (null: plain TCP) added to <paramref name="setup"/>.</summary>
    public static ActorSystemSetup Apply(ActorSystemSetup setup, RemotingTlsOptions? options) =>
        options is null ? setup : setup.And(CreateSetup(options));

    private static bool Accept(X509Certificate? peer, SslPolicyErrors errors, X509Certificate2Collection? authorities,
        RemotingTlsOptions options, string? remotePeer, ILoggingAdapter? log)
    {
        var reason = Check(peer, errors, authorities, options);
        if (reason is null) return true;
        log?.Warning("{0} with {1}: {2}", HandshakeFailed, remotePeer ?? "a peer", reason);
        return false;
    }

    private static string? Check(X509Certificate? peer, SslPolicyErrors errors, X509Certificate2Collection? authorities, RemotingTlsOptions options)
    {
        if (peer is null)
            return options.RequireMutualAuthentication ? "the peer presented no certificate (mutual authentication is required)" : null;
        if (options.ValidateHostname && errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
            return $"its certificate '{peer.Subject}' does not name the host dialled";
        if (authorities is null)
            return (errors & ~SslPolicyErrors.RemoteCertificateNameMismatch) == SslPolicyErrors.None
                ? null
                : $"its certificate '{peer.Subject}' (issuer '{peer.Issuer}') is not trusted by this machine ({errors})";
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck; // a test or private CA publishes no CRL
        using var certificate = new X509Certificate2(peer);
        if (chain.Build(certificate)) return null;
        var status = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
        return $"its certificate '{certificate.Subject}' (issuer '{certificate.Issuer}') does not chain to the configured CA ({status})";
    }

    private static X509Certificate2 LoadCertificate(string path, string? password)
    {
        if (!File.Exists(path)) throw new ArgumentException($"TLS certificate '{path}' does not exist (a PKCS#12 .pfx with its private key)");
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadPkcs12FromFile(path, string.IsNullOrEmpty(password) ? null : password);
        }
        catch (CryptographicException e)
        {
            throw new ArgumentException($"TLS certificate '{path}' cannot be read as PKCS#12 (wrong password?): {e.Message}", e);
        }
        if (!certificate.HasPrivateKey)
            throw new ArgumentException($"TLS certificate '{path}' holds no private key: export the certificate with its key (openssl pkcs12 -export -inkey ...)");
        return certificate;
    }

    private static X509Certificate2Collection LoadAuthorities(string path)
    {
        if (!File.Exists(path)) throw new ArgumentException($"TLS CA certificate '{path}' does not exist (a PEM file)");
        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(path);
        }
        catch (CryptographicException e)
        {
            throw new ArgumentException($"TLS CA certificate '{path}' cannot be read as PEM: {e.Message}", e);
        }
        if (authorities.Count == 0) throw new ArgumentException($"TLS CA certificate '{path}' holds no certificate (expected -----BEGIN CERTIFICATE-----)");
        return authorities;
    }
}
