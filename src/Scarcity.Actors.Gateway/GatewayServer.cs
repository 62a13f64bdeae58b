using System.Net;
using System.Security.Cryptography.X509Certificates;
using Akka;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Metrics;

namespace Scarcity.Actors.Gateway;

/// <summary>
/// The gateway of one node: Kestrel on <c>Scarcity:Gateway:Address</c>:<c>Port</c>, HTTP/2 only (h2c without a
/// certificate, h2 with one), serving <c>scarcity.v1.Governor</c> in front of the node's actor system. Stopping it
/// first ends every open Govern stream with <c>UNAVAILABLE</c> (so clients reconnect elsewhere at once), then Kestrel; the
/// node's coordinated shutdown ends the streams too, in its first phase, when the node starts leaving before the server
/// is stopped (a SIGTERM may start both at once).
/// </summary>
public sealed class GatewayServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stopping;

    private readonly GatewayContext _gateway;
    private int _disposed; // 1 once disposed: the coordinated shutdown's task then has nothing to end

    private GatewayServer(WebApplication app, CancellationTokenSource stopping, GatewayContext gateway, GatewayConfig config)
    {
        _app = app;
        _gateway = gateway;
        _stopping = stopping;
        Config = config;
    }

    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The settings it serves with.</summary>
    public GatewayConfig Config { get; }

    /// <summary>Its address for clients: <c>http://</c> or <c>https://</c>, the configured address (loopback for any) and port.</summary>
    public Uri Address => new($"{(Config.UsesTls ? "https" : "http")}://{(Config.Address is "*" or "0.0.0.0" ? "127.0.0.1" : Config.Address)}:{Config.Port}");

    /// <summary>Starts the gateway of <paramref name="system"/>'s node with <paramref name="config"/> (validated here).</summary>
    /// <param name="system">The node's actor system; its registration, profilers and operations actors must be registered in <paramref name="registry"/>.</param>
    /// <param name="registry">The node's actor registry.</param>
    /// <param name="config">The gateway's settings.</param>
    /// <param name="loggerFactory">Where its log lines go; none when null.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <exception cref="DRGConfigException">The settings are invalid.</exception>
    /// <exception cref="InvalidOperationException">The port cannot be served (most often: another process listens on it), or the certificate cannot be loaded.</exception>
    public static async Task<GatewayServer> StartAsync(ActorSystem system, ActorRegistry registry, GatewayConfig config, ILoggerFactory? loggerFactory = null,
        CancellationToken cancellationToken = default)
    {
        config.EnsureValid(GatewayConfig.Section);
        loggerFactory ??= NullLoggerFactory.Instance;
        var certificate = config.UsesTls ? LoadCertificate(config) : null;
        var token = config.ResolveBearerToken();
        var stopping = new CancellationTokenSource();
        var gateway = new GatewayContext(
            system,
            await registry.GetAsync<GovernorActors.Registration>(cancellationToken),
            await registry.GetAsync<GovernorActors.Profilers>(cancellationToken),
            await registry.GetAsync<GovernorActors.Operations>(cancellationToken),
            config, new GatewayMetrics(GovernorMetrics.Get(system).Registry), stopping.Token);

        // No reload-on-change: WebApplication's default watches the content root (the program's directory, recursively)
        // with a thread and an inotify instance of its own; the node reads its configuration once, at start.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory, Args = ["--hostBuilder:reloadConfigOnChange=false"],
        });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            // A client host that vanishes leaves its sockets open: PINGs find it, and its streams end (subsystems gone).
            k.Limits.Http2.KeepAlivePingDelay = config.KeepAliveInterval;
            k.Limits.Http2.KeepAlivePingTimeout = config.KeepAliveTimeout;
            void Configure(ListenOptions listen)
            {
                listen.Protocols = HttpProtocols.Http2;
                if (certificate is not null) listen.UseHttps(certificate);
            }
            if (config.Address is "*" or "0.0.0.0") k.ListenAnyIP(config.Port, Configure);
            else if (config.Address == "localhost") k.ListenLocalhost(config.Port, Configure);
            else k.Listen(IPAddress.Parse(config.Address), config.Port, Configure);
        });
        builder.Services.AddSingleton(gateway);
        builder.Services.AddSingleton(new GatewayTokens(token));
        builder.Services.AddSingleton(TimeProvider.System);
        // One interceptor for the node (gRPC would make one per call): it counts and paces its log lines across calls.
        builder.Services.AddSingleton<BearerTokenInterceptor>();
        builder.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = config.MaxMessageBytes;
            o.MaxSendMessageSize = config.MaxMessageBytes;
            o.EnableDetailedErrors = false;
            o.Interceptors.Add<BearerTokenInterceptor>();
        });
        var app = builder.Build();
        app.MapGrpcService<GovernorService>();
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException e)
        {
            await app.DisposeAsync();
            stopping.Dispose();
            throw new InvalidOperationException(
                $"{GatewayConfig.Section}:Port {config.Port} on {config.Address} cannot be served ({e.Message}); " +
                $"give each node of a machine its own port, or set {GatewayConfig.Section}:Enabled=false", e);
        }
        loggerFactory.CreateLogger<GatewayServer>().LogInformation(
            "Gateway: scarcity.v1.Governor on {Address} ({Protocol}, {Auth})", $"{config.Address}:{config.Port}",
            certificate is null ? "h2c, cleartext" : "h2, TLS", token is null ? "no token required" : "bearer token required");
        var server = new GatewayServer(app, stopping, gateway, config);
        // The node may start leaving before the host stops this server (Akka's coordinated shutdown runs on its own
        // triggers too): its first phase ends the streams, while the actors and Kestrel still serve their UNAVAILABLE.
        CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, "gateway-end-streams", async () =>
        {
            await server.EndStreamsAsync(ShutdownDrainTimeout, CancellationToken.None);
            return Done.Instance;
        });
        return server;
    }

    /// <summary>How long the coordinated shutdown's task waits for the streams to end: under the phase's 5 s timeout.</summary>
    private static readonly TimeSpan ShutdownDrainTimeout = TimeSpan.FromSeconds(4);

    /// <summary>Ends every open stream with <c>UNAVAILABLE</c> and waits, at most <paramref name="limit"/>, for their handlers to finish.</summary>
    private async Task EndStreamsAsync(TimeSpan limit, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _disposed) != 0) return;
        try
        {
            if (!_stopping.IsCancellationRequested) await _stopping.CancelAsync();
        }
        catch (ObjectDisposedException)
        {
            return; // disposed meanwhile: its streams have ended
        }
        // The handlers write their UNAVAILABLE status before Kestrel closes the connections (or a client would see a
        // bare connection close, INTERNAL); a few seconds at most.
        var draining = System.Diagnostics.Stopwatch.StartNew();
        while (_gateway.OpenStreams > 0 && draining.Elapsed < limit && !cancellationToken.IsCancellationRequested)
            await Task.Delay(20, CancellationToken.None);
    }

    private static X509Certificate2 LoadCertificate(GatewayConfig config)
    {
        try
        {
            var path = config.CertificatePath;
            if (path.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".p12", StringComparison.OrdinalIgnoreCase))
                return X509CertificateLoader.LoadPkcs12FromFile(path, string.IsNullOrEmpty(config.CertificatePassword) ? null : config.CertificatePassword);
            return string.IsNullOrEmpty(config.CertificatePassword)
                ? X509Certificate2.CreateFromPemFile(path, config.CertificateKeyPath)
                : X509Certificate2.CreateFromEncryptedPemFile(path, config.CertificatePassword, config.CertificateKeyPath);
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException or ArgumentException)
        {
            throw new InvalidOperationException(
                $"{GatewayConfig.Section}:CertificatePath '{config.CertificatePath}' cannot be loaded ({e.Message}); " +
                "give a PEM certificate with its PEM key (CertificateKeyPath), or a .pfx/.p12 file with its CertificatePassword", e);
        }
    }

    /// <summary>Ends every open stream with <c>UNAVAILABLE</c>, then stops Kestrel.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await EndStreamsAsync(DrainTimeout, cancellationToken);
        await _app.StopAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _app.DisposeAsync();
        if (Interlocked.Exchange(ref _disposed, 1) == 0) _stopping.Dispose();
    }

}

/// <summary>The Host's gateway: a <see cref="GatewayServer"/> started and stopped with the generic host, on <c>Scarcity:Gateway</c>.</summary>
public sealed class GatewayEndpoint(DRGConfig config, IServiceProvider services) : IHostedService, IAsyncDisposable
{
    private GatewayServer? _server;

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!config.Gateway.Enabled) return;
        _server = await GatewayServer.StartAsync(services.GetRequiredService<ActorSystem>(), services.GetRequiredService<ActorRegistry>(),
            config.Gateway, services.GetRequiredService<ILoggerFactory>(), cancellationToken);
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is not null) await _server.StopAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }
}

/// <summary>The gateway's registration with the generic host.</summary>
public static class GatewayEndpointExtensions
{
    /// <summary>Serves the gRPC gateway on <c>Scarcity:Gateway</c> (nothing when its <c>Enabled</c> is false). Needs the node's Akka.Hosting set-up and a <see cref="DRGConfig"/> singleton.</summary>
    public static IServiceCollection AddGatewayEndpoint(this IServiceCollection services) =>
        services.AddHostedService<GatewayEndpoint>();
}
