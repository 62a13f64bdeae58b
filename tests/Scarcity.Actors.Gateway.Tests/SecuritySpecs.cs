using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Gateway.V1;
using Xunit;

namespace Scarcity.Actors.Gateway.Tests;

/// <summary>Bearer tokens and TLS on a real Kestrel: what a client without the token, or without trust, gets.</summary>
public sealed class SecuritySpecs : IAsyncLifetime
{
    private const string Token = "s3cr3t-token-for-specs";
    private readonly string _dir = Directory.CreateTempSubdirectory("scarcity-gateway-tls-").FullName;
    private GatewayNode? _node;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_node is not null) await _node.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private static Metadata Bearer(string token) => new() { { "authorization", $"Bearer {token}" } };

    [Fact]
    public async Task Without_the_token_or_with_another_a_call_is_UNAUTHENTICATED_counted_and_logged_once_per_interval()
    {
        var logs = new ListLoggerFactory();
        _node = await GatewayNode.StartAsync(g => g.BearerToken = Token, logs: logs);

        var missing = await Assert.ThrowsAsync<RpcException>(async () => await _node.Client.GetFleetStatusAsync(new GetFleetStatusRequest()));
        var wrong = await Assert.ThrowsAsync<RpcException>(async () =>
            await _node.Client.GetDecisionsAsync(new GetDecisionsRequest(), Bearer("not-the-token")));
        using var stream = _node.Open(Bearer("not-the-token"));
        try { await stream.SendAsync(GatewayNode.Register()); }
        catch (RpcException) { /* the call may already have ended */ }
        var streamStatus = await stream.EndAsync();

        Assert.Equal(StatusCode.Unauthenticated, missing.StatusCode);
        Assert.Contains("no authorization metadata", missing.Status.Detail);
        Assert.Equal(StatusCode.Unauthenticated, wrong.StatusCode);
        Assert.Contains("wrong bearer token", wrong.Status.Detail);
        Assert.Equal(StatusCode.Unauthenticated, streamStatus.StatusCode);
        var metrics = new GatewayMetrics(Metrics.GovernorMetrics.Get(_node.Host.System).Registry);
        Assert.Equal(3, metrics.Unauthenticated.Value);
        Assert.Single(logs.Lines, l => l.Contains("UNAUTHENTICATED"));
        Assert.Equal(0, metrics.StreamsOpen.Value);

        // The right token passes, on every kind of call.
        Assert.NotNull(await _node.Client.GetFleetStatusAsync(new GetFleetStatusRequest(), Bearer(Token)));
        using var good = _node.Open(Bearer(Token));
        await good.SendAsync(GatewayNode.Register());
        Assert.Equal(GovernorMessage.KindOneofCase.Registered, (await good.NextAsync()).KindCase);
    }

    [Fact]
    public async Task A_token_file_is_read_trimmed()
    {
        var file = Path.Combine(_dir, "token");
        await File.WriteAllTextAsync(file, Token + "\n");
        _node = await GatewayNode.StartAsync(g => g.BearerTokenFile = file);

        Assert.NotNull(await _node.Client.GetFleetStatusAsync(new GetFleetStatusRequest(), Bearer(Token)));
        var error = await Assert.ThrowsAsync<RpcException>(async () => await _node.Client.GetFleetStatusAsync(new GetFleetStatusRequest(), Bearer(Token + "x")));
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    [Theory]
    [InlineData("pem")]
    [InlineData("pfx")]
    public async Task With_a_certificate_the_gateway_speaks_TLS_and_a_client_that_trusts_it_is_governed(string format)
    {
        var certificate = SelfSigned();
        _node = await GatewayNode.StartAsync(g => UseCertificate(g, certificate, format), server => Trusting(server, certificate));

        Assert.Equal("https", _node.Server.Address.Scheme);
        using var stream = _node.Open();
        await stream.SendAsync(GatewayNode.Register());
        Assert.Equal(GovernorMessage.KindOneofCase.Registered, (await stream.NextAsync()).KindCase);
        _node.Sample(0.95, 0);
        Assert.Equal(0.5, (await stream.NextThrottleAsync()).Level);
    }

    [Fact]
    public async Task Over_TLS_a_client_that_does_not_trust_the_certificate_or_speaks_cleartext_gets_nothing()
    {
        var certificate = SelfSigned();
        _node = await GatewayNode.StartAsync(g => UseCertificate(g, certificate, "pem"));

        var untrusted = await Assert.ThrowsAsync<RpcException>(async () => await _node.Client.GetFleetStatusAsync(new GetFleetStatusRequest()));
        Assert.NotEqual(StatusCode.OK, untrusted.StatusCode);
        Assert.Contains("SSL connection could not be established", untrusted.Status.ToString());

        using var cleartext = GrpcChannel.ForAddress($"http://127.0.0.1:{_node.Server.Config.Port}");
        var plain = await Assert.ThrowsAsync<RpcException>(async () =>
            await new Governor.GovernorClient(cleartext).GetFleetStatusAsync(new GetFleetStatusRequest(), deadline: DateTime.UtcNow.AddSeconds(20)));
        Assert.NotEqual(StatusCode.OK, plain.StatusCode);
    }

    [Fact]
    public void A_bad_configuration_names_every_key()
    {
        var config = new GatewayConfig
        {
            Port = 70000, Address = "nowhere", CertificatePath = Path.Combine(_dir, "missing.pem"), BearerToken = "a b",
            BearerTokenFile = Path.Combine(_dir, "missing-token"), MaxMessageBytes = 10, MaxReportsPerSecond = 0,
        };

        var error = Assert.Throws<DRGConfigException>(() => config.EnsureValid(GatewayConfig.Section));

        Assert.Contains("Scarcity:Gateway:Port must be in 1..65535, was 70000 (turn the gateway off with Scarcity:Gateway:Enabled=false)", error.Errors);
        Assert.Contains("Scarcity:Gateway:Address must be an IP address, * or localhost, was 'nowhere'", error.Errors);
        Assert.Contains($"Scarcity:Gateway:CertificatePath '{config.CertificatePath}' does not exist", error.Errors);
        Assert.Contains("Scarcity:Gateway:CertificateKeyPath is empty: a PEM certificate needs its PEM private key (or give a .pfx/.p12 file)", error.Errors);
        Assert.Contains("Scarcity:Gateway:BearerToken and Scarcity:Gateway:BearerTokenFile are both set; give one", error.Errors);
        Assert.Contains("Scarcity:Gateway:BearerToken must not contain white space or control characters", error.Errors);
        Assert.Contains($"Scarcity:Gateway:BearerTokenFile '{config.BearerTokenFile}' does not exist", error.Errors);
        Assert.Contains("Scarcity:Gateway:MaxMessageBytes must be in 1024..16777216, was 10", error.Errors);
        Assert.Contains("Scarcity:Gateway:MaxReportsPerSecond must be in 1..10000, was 0", error.Errors);
    }

    [Fact]
    public async Task A_port_already_served_fails_the_start_naming_the_key()
    {
        _node = await GatewayNode.StartAsync();
        var second = new GatewayConfig { Port = _node.Server.Config.Port };

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => GatewayServer.StartAsync(_node.Host.System, _node.Host.Registry, second));

        Assert.StartsWith($"Scarcity:Gateway:Port {second.Port} on 127.0.0.1 cannot be served", error.Message);
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    private void UseCertificate(GatewayConfig gateway, X509Certificate2 certificate, string format)
    {
        if (format == "pfx")
        {
            gateway.CertificatePath = Path.Combine(_dir, "gateway.pfx");
            gateway.CertificatePassword = "pfx-password";
            File.WriteAllBytes(gateway.CertificatePath, certificate.Export(X509ContentType.Pkcs12, gateway.CertificatePassword));
            return;
        }
        gateway.CertificatePath = Path.Combine(_dir, "gateway.crt");
        gateway.CertificateKeyPath = Path.Combine(_dir, "gateway.key");
        File.WriteAllText(gateway.CertificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(gateway.CertificateKeyPath, certificate.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
    }

    // The client pins the one certificate: what a client given the gateway's CA (here the certificate itself) does.
    private static GrpcChannel Trusting(GatewayServer server, X509Certificate2 certificate) =>
        GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                SslOptions = { RemoteCertificateValidationCallback = (_, presented, _, _) => presented is not null && presented.GetCertHashString() == certificate.GetCertHashString() },
            },
        });

    private sealed class ListLoggerFactory : ILoggerFactory, ILoggerProvider, ILogger
    {
        public ConcurrentQueue<string> Lines { get; } = new();
        public void AddProvider(ILoggerProvider provider) { }
        public ILogger CreateLogger(string categoryName) => this;
        public void Dispose() { }
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
    }
}
