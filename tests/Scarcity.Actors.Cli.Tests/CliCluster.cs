using Scarcity.Actors.Testing;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Scarcity.Actors.Cli;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Hosting;
using Scarcity.Actors.Operations;

namespace Scarcity.Actors.Cli.Tests;

/// <summary>
/// A real governor cluster in this process for the CLI specs: 3 actor systems on loopback (seed on a free port, the others
/// on port 0), each with WithScarcityNode (operations included) and a SQLite file of its own. Node 0 and 1 are
/// governors, node 2 a sensor that reads this machine.
/// </summary>
public sealed class CliCluster : IAsyncDisposable
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    public sealed record Node(IHost Host, ActorSystem System, ActorRegistry Registry, DRGConfig Config, string DbPath)
    {
        public string Address => Akka.Cluster.Cluster.Get(System).SelfAddress.ToString();
        public IActorRef Policy => Registry.Get<GovernorActors.Registration>();
        public IActorRef Profilers => Registry.Get<GovernorActors.Profilers>();
    }

    public List<Node> Nodes { get; } = [];

    public static async Task<CliCluster> StartAsync(Action<DRGConfig>? configure = null)
    {
        var cluster = new CliCluster();
        var seedPort = GovernorHost.FreePort();
        var seed = $"akka.tcp://{GovernorHostingExtensions.SystemName}@127.0.0.1:{seedPort}";
        (string Host, int Port, List<string> Roles)[] layout =
            [("gpu-a", seedPort, ["governor"]), ("gpu-b", 0, ["governor"]), ("gpu-c", 0, ["sensor"])];
        foreach (var (host, port, roles) in layout)
        {
            var db = Path.Combine(Path.GetTempPath(), $"scarcity-cli-{Guid.NewGuid():N}.db");
            var config = new DRGConfig
            {
                Host = host,
                Persistence = { Provider = "Sqlite", ConnectionString = $"Data Source={db}" },
                Cluster = { Port = port, SeedNodes = [seed], Roles = roles },
                ViewInterval = TimeSpan.FromMilliseconds(200), // the fleet view the CLI reads follows the digests: keep it fresh for the specs
            };
            configure?.Invoke(config);
            cluster.Nodes.Add(await StartNode(config, db));
        }
        await cluster.WaitUntil(() => cluster.Nodes.All(n =>
            Akka.Cluster.Cluster.Get(n.System).State.Members.Count(m => m.Status == Akka.Cluster.MemberStatus.Up) == layout.Length));
        return cluster;
    }

    private static async Task<Node> StartNode(DRGConfig config, string db)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddAkka(GovernorHostingExtensions.SystemName, (akka, _) =>
        {
            akka.AddHocon("""
                akka.loglevel = WARNING
                akka.cluster.split-brain-resolver.stable-after = 30s
                """, HoconAddMode.Prepend);
            akka.WithScarcityNode(config);
        });
        var host = builder.Build();
        await host.StartAsync();
        var system = host.Services.GetRequiredService<ActorSystem>();
        var registry = host.Services.GetRequiredService<ActorRegistry>();
        var up = new TaskCompletionSource();
        Akka.Cluster.Cluster.Get(system).RegisterOnMemberUp(() => up.TrySetResult());
        await up.Task.WaitAsync(Wait);
        await registry.GetAsync<GovernorActors.Operations>();
        return new Node(host, system, registry, config, db);
    }

    /// <summary>Waits for a condition the cluster reaches by itself (membership, gossip), checking it every 100 ms.</summary>
    public async Task WaitUntil(Func<bool> condition, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Wait);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        while (!condition())
            if (!await timer.WaitForNextTickAsync(cts.Token)) break;
    }


    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes.AsEnumerable().Reverse())
        {
            try { await node.Host.StopAsync(TimeSpan.FromSeconds(30)); } catch (Exception) { /* already stopped by a leave */ }
            node.Host.Dispose();
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var f in Nodes.SelectMany(n => new[] { n.DbPath, n.DbPath + "-wal", n.DbPath + "-shm" }))
            if (File.Exists(f)) File.Delete(f);
    }
}

/// <summary>What one run of the CLI printed and returned.</summary>
public sealed record CliRun(int ExitCode, string Out, string Err, TimeSpan Took)
{
    public JsonElement Json => JsonDocument.Parse(Out).RootElement;

    public static async Task<CliRun> Of(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var started = System.Diagnostics.Stopwatch.StartNew();
        var code = await ScarcityCli.RunAsync(args, stdout, stderr);
        return new CliRun(code, stdout.ToString(), stderr.ToString(), started.Elapsed);
    }

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Out}\nstderr:\n{Err}";
}
