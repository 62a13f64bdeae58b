using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Hosting;
using Scarcity.Actors.Sensing;

namespace Scarcity.Actors.Testing;

/// <summary>
/// A real governor node for specs: Akka.Hosting, a one-node cluster on a free loopback port, SQLite in a temp file,
/// by default with <c>akka.actor.serialize-messages = on</c> (every message of ours goes through the ScarcitySerializer on every send;
/// Akka.Persistence's two local-only internals pass through <see cref="AkkaInternalsPassThroughSerializer"/>). The sensor source is the spec's (a trace, or a source it drives).
/// </summary>
public sealed class GovernorHost : IAsyncDisposable
{
    private readonly IHost _host;

    private GovernorHost(IHost host, DRGConfig config, string dbPath)
    {
        _host = host;
        Config = config;
        DbPath = dbPath;
        System = host.Services.GetRequiredService<ActorSystem>();
        Registry = host.Services.GetRequiredService<ActorRegistry>();
    }

    public ActorSystem System { get; }
    public ActorRegistry Registry { get; }
    public DRGConfig Config { get; }
    public string DbPath { get; }

    public IActorRef Policy => Registry.Get<GovernorActors.Registration>();
    public IActorRef Profilers => Registry.Get<GovernorActors.Profilers>();
    public IActorRef Monitor => Registry.Get<GovernorActors.Monitor>();
    public IActorRef DecisionLog => Registry.Get<GovernorActors.DecisionLog>();

    /// <summary>A loopback port that was free a moment ago (bind to port 0, read it, release it).</summary>
    public static int FreePort()
    {
        var listener = new global::System.Net.Sockets.TcpListener(global::System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((global::System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>A fresh config for specs: host "spec-host", no sensor role unless a source is given, free port.</summary>
    public static DRGConfig SpecConfig(string? dbPath = null)
    {
        dbPath ??= Path.Combine(Path.GetTempPath(), $"scarcity-spec-{Guid.NewGuid():N}.db");
        return new DRGConfig
        {
            Host = "spec-host",
            Persistence = { Provider = "Sqlite", ConnectionString = $"Data Source={dbPath}" },
            Cluster = { Port = 0, Roles = ["governor"] },
        };
    }

    /// <param name="config">The node's configuration.</param>
    /// <param name="source">The sensor source, if the node samples.</param>
    /// <param name="verifySerialization">
    /// <c>akka.actor.serialize-messages = on</c>. The in-process three-node specs turn it off: on two cores it slows
    /// cluster formation several times over.
    /// </param>
    public static async Task<GovernorHost> StartAsync(DRGConfig config, Func<ActorSystem, ISensorSource>? source = null, bool verifySerialization = true)
    {
        if (source is not null && !config.Cluster.Roles.Contains("sensor")) config.Cluster.Roles.Add("sensor");
        var dbPath = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(config.Persistence.ConnectionString).DataSource;
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddAkka(GovernorHostingExtensions.SystemName, (akka, _) =>
        {
            // SPEC_LOGLEVEL=INFO shows every decision and registration of a spec's nodes.
            akka.AddHocon($"akka.loglevel = {Environment.GetEnvironmentVariable("SPEC_LOGLEVEL") ?? "WARNING"}\n" + """
                akka.cluster.split-brain-resolver.stable-after = 3s
                """ + "\n" + (verifySerialization ? AkkaInternalsPassThroughSerializer.Hocon : ""), HoconAddMode.Prepend);
            akka.WithScarcityNode(config, source);
        });
        var host = builder.Build();
        await host.StartAsync();
        var governor = new GovernorHost(host, config, dbPath);
        await governor.WaitUntilUp();
        return governor;
    }

    private async Task WaitUntilUp()
    {
        var cluster = Akka.Cluster.Cluster.Get(System);
        var up = new TaskCompletionSource();
        cluster.RegisterOnMemberUp(() => up.TrySetResult());
        await up.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await Registry.GetAsync<GovernorActors.Registration>();
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }

    /// <summary>Rows in a table of the SQLite database (journal, snapshot), read with a connection of its own.</summary>
    public long CountRows(string table, string where = "1 = 1")
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DbPath};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM \"{table}\" WHERE {where}";
        return (long)command.ExecuteScalar()!;
    }

    public void DeleteDatabase()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var f in new[] { DbPath, DbPath + "-wal", DbPath + "-shm" })
            if (File.Exists(f)) File.Delete(f);
    }
}
