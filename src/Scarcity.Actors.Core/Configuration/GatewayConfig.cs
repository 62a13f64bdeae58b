namespace Scarcity.Actors.Configuration;

/// <summary>
/// The node's gRPC gateway (<c>proto/scarcity/v1/governor.proto</c>): subsystems written in any language register and
/// are governed over one bidirectional stream each; operators read the fleet and the decisions. Kestrel, HTTP/2 only:
/// cleartext (h2c) without a certificate, TLS (h2) with one. See docs/gateway.md.
/// </summary>
public sealed class GatewayConfig : IValidatedConfig
{
    /// <summary>The configuration section these settings are bound from.</summary>
    public const string Section = "Scarcity:Gateway";

    /// <summary>Whether this node serves the gateway. <value>true</value></summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The port it listens on; IANA's registered port of gRPC examples, as most gRPC servers use. <value>50051</value></summary>
    public int Port { get; set; } = 50051;

    /// <summary>
    /// The address it listens on: <c>127.0.0.1</c> (loopback, the default), <c>0.0.0.0</c> / <c>*</c> (every
    /// interface; configure a certificate and a token first) or one address of this host. <value>127.0.0.1</value>
    /// </summary>
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>
    /// The server certificate: a PEM file (with <see cref="CertificateKeyPath"/>) or a PKCS#12 file (<c>.pfx</c> or
    /// <c>.p12</c>, with <see cref="CertificatePassword"/> if it has one). Empty: no TLS (h2c, cleartext HTTP/2).
    /// <value>empty</value>
    /// </summary>
    public string CertificatePath { get; set; } = "";

    /// <summary>The PEM private key of a PEM <see cref="CertificatePath"/>. <value>empty</value></summary>
    public string CertificateKeyPath { get; set; } = "";

    /// <summary>The password of a PKCS#12 certificate or of an encrypted PEM key. <value>empty</value></summary>
    public string CertificatePassword { get; set; } = "";

    /// <summary>
    /// The bearer token every call must carry (<c>authorization: Bearer &lt;token&gt;</c>); a call without it, or with
    /// another, ends with <c>UNAUTHENTICATED</c>. Empty (and no <see cref="BearerTokenFile"/>): no token required.
    /// <value>empty</value>
    /// </summary>
    public string BearerToken { get; set; } = "";

    /// <summary>A file whose content (surrounding white space trimmed) is the bearer token, e.g. a mounted secret. <value>empty</value></summary>
    public string BearerTokenFile { get; set; } = "";

    /// <summary>The largest message accepted or sent, in bytes; a larger one ends its call with <c>RESOURCE_EXHAUSTED</c>. <value>65536</value></summary>
    public int MaxMessageBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// Metric reports one Govern stream may send per second (a token bucket of this size, refilled at this rate); the
    /// excess is counted (<c>scarcity_gateway_reports_dropped_total</c>) and never profiled. <value>20</value>
    /// </summary>
    public int MaxReportsPerSecond { get; set; } = 20;

    /// <summary>
    /// Governor messages (Registered, Throttles) queued for one stream whose client does not read; past this the stream
    /// ends with <c>RESOURCE_EXHAUSTED</c> and the subsystem is gone until it reconnects. <value>256</value>
    /// </summary>
    public int StreamQueueCapacity { get; set; } = 256;

    /// <summary>How long a unary call waits for the cluster's answer before <c>DEADLINE_EXCEEDED</c>. <value>10 s</value></summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often a stream's subsystem asks again while its registration is unanswered (e.g. during a failover, while
    /// the actuator entities move). <value>2 s</value>
    /// </summary>
    public TimeSpan RegisterInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a connection may be silent before the gateway sends an HTTP/2 PING; a client that does not answer within
    /// <see cref="KeepAliveTimeout"/> is gone (a host that vanished without closing its sockets), and so are its
    /// subsystems. <value>10 s</value>
    /// </summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long the gateway waits for the answer to its PING before it closes the connection. <value>20 s</value></summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>At most one log line per this interval about unauthenticated calls (all are counted). <value>1 min</value></summary>
    public TimeSpan UnauthenticatedLogInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>True when a PEM or PKCS#12 certificate is configured.</summary>
    public bool UsesTls => !string.IsNullOrWhiteSpace(CertificatePath);

    /// <summary>True when calls must carry a bearer token.</summary>
    public bool RequiresToken => !string.IsNullOrEmpty(BearerToken) || !string.IsNullOrWhiteSpace(BearerTokenFile);

    /// <summary>The token calls must carry: <see cref="BearerToken"/>, or the trimmed content of <see cref="BearerTokenFile"/>; null when none is required.</summary>
    /// <exception cref="IOException">The token file cannot be read.</exception>
    public string? ResolveBearerToken()
    {
        if (!string.IsNullOrEmpty(BearerToken)) return BearerToken;
        if (string.IsNullOrWhiteSpace(BearerTokenFile)) return null;
        return File.ReadAllText(BearerTokenFile).Trim();
    }

    /// <summary>Every problem with this configuration, each naming its key.</summary>
    public IEnumerable<string> Validate(string section = Section)
    {
        if (!Enabled) yield break;
        if (Port is < 1 or > 65535) yield return $"{section}:Port must be in 1..65535, was {Port} (turn the gateway off with {section}:Enabled=false)";
        if (Address is not ("*" or "0.0.0.0" or "localhost") && !System.Net.IPAddress.TryParse(Address, out _))
            yield return $"{section}:Address must be an IP address, * or localhost, was '{Address}'";
        if (UsesTls)
        {
            if (!File.Exists(CertificatePath)) yield return $"{section}:CertificatePath '{CertificatePath}' does not exist";
            var pkcs12 = CertificatePath.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase) || CertificatePath.EndsWith(".p12", StringComparison.OrdinalIgnoreCase);
            if (pkcs12 && !string.IsNullOrWhiteSpace(CertificateKeyPath))
                yield return $"{section}:CertificateKeyPath must be empty with a PKCS#12 certificate ('{CertificatePath}' holds its key)";
            if (!pkcs12 && string.IsNullOrWhiteSpace(CertificateKeyPath))
                yield return $"{section}:CertificateKeyPath is empty: a PEM certificate needs its PEM private key (or give a .pfx/.p12 file)";
            if (!pkcs12 && !string.IsNullOrWhiteSpace(CertificateKeyPath) && !File.Exists(CertificateKeyPath))
                yield return $"{section}:CertificateKeyPath '{CertificateKeyPath}' does not exist";
        }
        else if (!string.IsNullOrWhiteSpace(CertificateKeyPath))
            yield return $"{section}:CertificateKeyPath is set but {section}:CertificatePath is empty";
        if (!string.IsNullOrEmpty(BearerToken) && !string.IsNullOrWhiteSpace(BearerTokenFile))
            yield return $"{section}:BearerToken and {section}:BearerTokenFile are both set; give one";
        if (!string.IsNullOrEmpty(BearerToken) && (BearerToken.Any(char.IsWhiteSpace) || BearerToken.Any(char.IsControl)))
            yield return $"{section}:BearerToken must not contain white space or control characters";
        if (!string.IsNullOrWhiteSpace(BearerTokenFile))
        {
            if (!File.Exists(BearerTokenFile)) yield return $"{section}:BearerTokenFile '{BearerTokenFile}' does not exist";
            else if (string.IsNullOrWhiteSpace(File.ReadAllText(BearerTokenFile)))
                yield return $"{section}:BearerTokenFile '{BearerTokenFile}' is empty";
        }
        if (MaxMessageBytes is < 1024 or > 16 * 1024 * 1024)
            yield return $"{section}:MaxMessageBytes must be in 1024..16777216, was {MaxMessageBytes}";
        if (MaxReportsPerSecond is < 1 or > 10_000) yield return $"{section}:MaxReportsPerSecond must be in 1..10000, was {MaxReportsPerSecond}";
        if (StreamQueueCapacity is < 8 or > 1_000_000) yield return $"{section}:StreamQueueCapacity must be in 8..1000000, was {StreamQueueCapacity}";
        if (RequestTimeout <= TimeSpan.Zero || RequestTimeout > TimeSpan.FromMinutes(5))
            yield return $"{section}:RequestTimeout must be between 0 and 00:05:00, was {RequestTimeout}";
        if (RegisterInterval < TimeSpan.FromMilliseconds(100) || RegisterInterval > TimeSpan.FromMinutes(1))
            yield return $"{section}:RegisterInterval must be between 00:00:00.100 and 00:01:00, was {RegisterInterval}";
        if (KeepAliveInterval < TimeSpan.FromSeconds(1) || KeepAliveInterval > TimeSpan.FromHours(1))
            yield return $"{section}:KeepAliveInterval must be between 00:00:01 and 01:00:00, was {KeepAliveInterval}";
        if (KeepAliveTimeout < TimeSpan.FromSeconds(1) || KeepAliveTimeout > TimeSpan.FromHours(1))
            yield return $"{section}:KeepAliveTimeout must be between 00:00:01 and 01:00:00, was {KeepAliveTimeout}";
        if (UnauthenticatedLogInterval < TimeSpan.Zero)
            yield return $"{section}:UnauthenticatedLogInterval must not be negative, was {UnauthenticatedLogInterval}";
    }
}
