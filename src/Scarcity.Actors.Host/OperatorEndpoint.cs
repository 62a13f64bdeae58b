using System.Net;
using System.Text.Json;
using Akka.Actor;
using Akka.Cluster;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Journaling;
using Scarcity.Actors.Metrics;

namespace Scarcity.Actors.Host;

/// <summary>
/// The node's HTTP endpoint for operators, on <c>Scarcity:Metrics:Address</c>:<c>Port</c> (Kestrel, apart from the
/// generic host so that the node's own services stay as they are): <c>/metrics</c> (Prometheus text format, the
/// node's <see cref="GovernorMetrics"/>), <c>/healthz</c> (the process answers) and <c>/readyz</c> (cluster member Up,
/// database answering within <c>ReadinessTimeout</c>, the local sensor fresh), each check's state and reason in JSON.
/// </summary>
public sealed class OperatorEndpoint(DRGConfig config, IServiceProvider services) : IHostedService, IAsyncDisposable
{
    private WebApplication? _app;

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var metricsConfig = config.Metrics;
        if (!metricsConfig.Enabled) return;
        var system = services.GetRequiredService<ActorSystem>();
        // No reload-on-change (as the node's own host, Program.cs): WebApplication's default watches the content root,
        // i.e. the program's directory and its subdirectories, with a thread and an inotify instance of its own.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory, Args = ["--hostBuilder:reloadConfigOnChange=false"],
        });
        // The node's own loggers (its format, --log-format json included, and its levels), not a console logger of its own.
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(services.GetRequiredService<ILoggerFactory>());
        builder.WebHost.ConfigureKestrel(k =>
        {
            if (metricsConfig.Address is "*" or "0.0.0.0") k.ListenAnyIP(metricsConfig.Port);
            else if (metricsConfig.Address == "localhost") k.ListenLocalhost(metricsConfig.Port);
            else k.Listen(IPAddress.Parse(metricsConfig.Address), metricsConfig.Port);
        });
        builder.Services.AddSingleton(system);
        builder.Services.AddSingleton(config);
        builder.Services.AddHealthChecks()
            .AddCheck("process", () => HealthCheckResult.Healthy("the process answers"), tags: ["live"])
            .AddCheck<ClusterMemberCheck>("cluster", tags: ["ready"])
            .AddCheck<PersistenceCheck>("persistence", tags: ["ready"])
            .AddCheck<SensorCheck>("sensor", tags: ["ready"]);

        var app = builder.Build();
        var registry = GovernorMetrics.Get(system).Registry;
        app.MapGet("/metrics", async context =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
        });
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = c => c.Tags.Contains("live"), ResponseWriter = WriteJson });
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready"), ResponseWriter = WriteJson });
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException e)
        {
            await app.DisposeAsync();
            // Another node of this machine on the same port, most often: name the key that moves it.
            throw new InvalidOperationException(
                $"Scarcity:Metrics:Port {metricsConfig.Port} on {metricsConfig.Address} cannot be served ({e.Message}); " +
                "give each node of a machine its own port, or 0 to turn the endpoint off", e);
        }
        _app = app;
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null) await _app.StopAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_app is not null) await _app.DisposeAsync();
    }

    private static Task WriteJson(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("status", report.Status.ToString());
            json.WriteStartObject("checks");
            foreach (var (name, entry) in report.Entries)
            {
                json.WriteStartObject(name);
                json.WriteString("status", entry.Status.ToString());
                json.WriteString("reason", entry.Description ?? entry.Exception?.Message ?? "");
                json.WriteNumber("durationMs", Math.Round(entry.Duration.TotalMilliseconds, 1));
                json.WriteEndObject();
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return context.Response.Body.WriteAsync(buffer.ToArray()).AsTask();
    }
}

/// <summary>Ready while this node is an Up member of the cluster; until it is, the reason names the seed nodes it tries.</summary>
internal sealed class ClusterMemberCheck(ActorSystem system, DRGConfig config) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var cluster = Cluster.Get(system);
        var self = cluster.SelfMember;
        var seeds = config.Cluster.SeedNodes;
        return Task.FromResult(self.Status == MemberStatus.Up
            ? HealthCheckResult.Healthy($"{self.Address} is Up")
            : cluster.State.Members.Count == 0 && seeds.Count > 0
                ? HealthCheckResult.Unhealthy($"{self.Address} is not a member yet: no seed node accepted the join (seed nodes tried: {string.Join(", ", seeds)})")
                : HealthCheckResult.Unhealthy($"{self.Address} is {self.Status}, not Up"));
    }
}

/// <summary>
/// Ready while the configured database accepts a connection and answers <c>SELECT 1</c> within the readiness timeout and
/// the entities of this node write their journal. A SQLite file is opened read-write without being created, and without
/// the connection pool (a pooled connection would hide a vanished file): a missing file or directory is not ready.
/// While it is not ready the node still governs; the description says what waits to be written (<see cref="PersistenceHealth"/>).
/// </summary>
internal sealed class PersistenceCheck(DRGConfig config, ActorSystem system) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!config.Cluster.IsGovernor) return HealthCheckResult.Healthy("a sensor-only node keeps no state");
        var result = await AnswersAsync(cancellationToken);
        var health = PersistenceHealth.Get(system);
        var journal = health.OldestFailure is { } failure
            ? $"database down for this node's entities: journal writes of {health.FailingEntities} entities fail since {failure.Since:HH:mm:ss} UTC ({failure.PersistenceId}: {failure.Error}); {health.Waiting} events waiting to be written; governing continues"
            : health.Waiting > 0 ? $"{health.Waiting} events waiting to be written" : null;
        if (journal is null) return result;
        return result.Status == HealthStatus.Healthy && health.OldestFailure is null
            ? HealthCheckResult.Healthy($"{result.Description}; {journal}")
            : HealthCheckResult.Unhealthy($"{result.Description}; {journal}");
    }

    private async Task<HealthCheckResult> AnswersAsync(CancellationToken cancellationToken)
    {
        var persistence = config.Persistence;
        var sqlite = string.Equals(persistence.Provider, "Sqlite", StringComparison.OrdinalIgnoreCase);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(config.Metrics.ReadinessTimeout);
        try
        {
            await using var connection = sqlite
                ? new Microsoft.Data.Sqlite.SqliteConnection(new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(persistence.ConnectionString)
                    { Mode = Microsoft.Data.Sqlite.SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = Math.Max(1, (int)config.Metrics.ReadinessTimeout.TotalSeconds) }.ToString())
                : (System.Data.Common.DbConnection)new Npgsql.NpgsqlConnection(persistence.ConnectionString);
            // Opening a file is synchronous in Microsoft.Data.Sqlite; off the request thread, bounded by the deadline.
            await Task.Run(() => connection.OpenAsync(deadline.Token), deadline.Token).WaitAsync(deadline.Token);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            await command.ExecuteScalarAsync(deadline.Token);
            return HealthCheckResult.Healthy($"{persistence.Provider} answers");
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"{persistence.Provider} did not answer within {config.Metrics.ReadinessTimeout}");
        }
        catch (System.Data.Common.DbException e)
        {
            return HealthCheckResult.Unhealthy($"{persistence.Provider} unreachable: {e.Message}");
        }
    }
}

/// <summary>Ready while this node's sensor produced a sample within three intervals (at least 5 s); a node without a sensor passes.</summary>
internal sealed class SensorCheck(ActorSystem system, DRGConfig config) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!config.Cluster.Roles.Contains("sensor")) return Task.FromResult(HealthCheckResult.Healthy("no sensor on this node"));
        var limit = TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(5).Ticks, config.Sensor.Interval.Ticks * 3));
        var last = GovernorMetrics.Get(system).LastSampleAt;
        if (last is null) return Task.FromResult(HealthCheckResult.Unhealthy("no sample yet"));
        var age = system.Scheduler.Now - last.Value;
        return Task.FromResult(age <= limit
            ? HealthCheckResult.Healthy($"last sample {age.TotalSeconds:0.0} s ago")
            : HealthCheckResult.Unhealthy($"last sample {age.TotalSeconds:0.0} s ago, more than {limit.TotalSeconds:0.#} s"));
    }
}

/// <summary>The operator endpoint's registration.</summary>
public static class OperatorEndpointExtensions
{
    /// <summary>Serves <c>/metrics</c>, <c>/healthz</c> and <c>/readyz</c> on <c>Scarcity:Metrics</c> (nothing when its port is 0).</summary>
    public static IServiceCollection AddOperatorEndpoint(this IServiceCollection services) =>
        services.AddHostedService<OperatorEndpoint>();
}
