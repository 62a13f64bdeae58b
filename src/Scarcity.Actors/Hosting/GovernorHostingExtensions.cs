using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Persistence.Sql.Hosting;
using Akka.Remote.Hosting;
using LinqToDB;
using Scarcity.Actors.Actuation;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Monitoring;
using Scarcity.Actors.Operations;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Profiling;
using Scarcity.Actors.Sensing;
using Scarcity.Actors.Sharding;
using Akka.Cluster.Sharding;

namespace Scarcity.Actors.Hosting;

/// <summary>Keys of the governor's actors in the <see cref="ActorRegistry"/>.</summary>
public static class GovernorActors
{
    /// <summary>The <see cref="PolicyActor"/>: send it <see cref="RegisterSubsystem"/>.</summary>
    public sealed class Policy;
    /// <summary>The profiler registry: send it <see cref="Sample"/> and <see cref="ReportMetrics"/>.</summary>
    public sealed class Profilers;
    /// <summary>The <see cref="MonitorActor"/>: ask it <see cref="GetGovernorStatus"/>.</summary>
    public sealed class Monitor;
    /// <summary>The <see cref="DecisionLogActor"/>: ask it <see cref="GetRecentDecisions"/>.</summary>
    public sealed class DecisionLog;
    /// <summary>This node's <see cref="SensorActor"/>.</summary>
    public sealed class Sensor;
    /// <summary>The shard region (or proxy) of the per-host profiler entities.</summary>
    public sealed class ProfilerRegion;
    /// <summary>The shard region (or proxy) of the per-subsystem actuator entities.</summary>
    public sealed class ActuatorRegion;
}

/// <summary>Akka.Hosting set-up of the governor.</summary>
public static class GovernorHostingExtensions
{
    /// <summary>The actor system name every node of a governor cluster shares.</summary>
    public const string SystemName = "scarcity";

    /// <summary>
    /// Binds <see cref="ScarcitySerializer"/> to every governor message and event. Call on every actor system that talks
    /// to the governor (nodes, subsystems, CLI).
    /// </summary>
    public static AkkaConfigurationBuilder WithScarcitySerialization(this AkkaConfigurationBuilder builder)
    {
        GovernorEntities.RegisterSerialization();
        return builder.WithCustomSerializer("scarcity", [typeof(IScarcityMessage)], system => new ScarcitySerializer(system));
    }

    /// <summary>
    /// Remoting and cluster membership from <see cref="DRGConfig.Cluster"/>: with no seed nodes the node forms a
    /// one-node cluster with itself.
    /// </summary>
    public static AkkaConfigurationBuilder WithScarcityCluster(this AkkaConfigurationBuilder builder, DRGConfig config)
    {
        var cluster = config.Cluster;
        var seeds = cluster.SeedNodes.Count > 0
            ? cluster.SeedNodes.ToArray()
            : cluster.Port > 0 ? [$"akka.tcp://{SystemName}@{cluster.Hostname}:{cluster.Port}"] : [];
        builder.WithRemoting(cluster.Hostname, cluster.Port)
            .WithClustering(new ClusterOptions { Roles = cluster.Roles.ToArray(), SeedNodes = seeds })
            // Keep-majority counts the governor nodes only: sensor-only GPU hosts come and go without deciding a partition.
            .AddHocon($$"""
                akka.cluster.split-brain-resolver.active-strategy = keep-majority
                akka.cluster.split-brain-resolver.keep-majority.role = governor
                akka.cluster.split-brain-resolver.stable-after = {{(int)cluster.StableAfter.TotalMilliseconds}}ms
                """, HoconAddMode.Prepend);
        if (seeds.Length == 0)
            builder.AddStartup((system, _) => Akka.Cluster.Cluster.Get(system).Join(Akka.Cluster.Cluster.Get(system).SelfAddress));
        return builder;
    }

    /// <summary>Akka.Persistence.Sql from <see cref="DRGConfig.Persistence"/>; tables are created on first start.</summary>
    public static AkkaConfigurationBuilder WithScarcityPersistence(this AkkaConfigurationBuilder builder, PersistenceConfig config)
    {
        var isSqlite = string.Equals(config.Provider, "Sqlite", StringComparison.OrdinalIgnoreCase);
        if (isSqlite) EnsureSqliteDirectory(config.ConnectionString);
        return builder.WithSqlPersistence(
            connectionString: config.ConnectionString,
            providerName: isSqlite ? ProviderName.SQLiteMS : ProviderName.PostgreSQL15,
            autoInitialize: true);
    }

    private static void EnsureSqliteDirectory(string connectionString)
    {
        var csb = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(connectionString);
        var directory = Path.GetDirectoryName(Path.GetFullPath(csb.DataSource));
        if (!string.IsNullOrEmpty(directory) && csb.Mode != Microsoft.Data.Sqlite.SqliteOpenMode.Memory) Directory.CreateDirectory(directory);
    }

    /// <summary>
    /// The governor on this node. On a <c>governor</c> node: the sharded entities (a profiler per host, an actuator per
    /// subsystem; DData coordinator state, remembered entities in the journal so they restart on a survivor at once);
    /// elsewhere, proxies to them. On every node: the policy front door, the fleet view, the decision log, the gateway
    /// for samples and app metrics, all registered with the ClusterClient receptionist; and on a <c>sensor</c> node the
    /// SensorActor. Serialization, cluster and persistence come from <see cref="WithScarcitySerialization"/>,
    /// <see cref="WithScarcityCluster"/> and <see cref="WithScarcityPersistence"/>, or all at once from
    /// <see cref="WithScarcityNode"/>.
    /// </summary>
    /// <param name="builder">The Akka builder.</param>
    /// <param name="config">A validated configuration.</param>
    /// <param name="source">The sensor source of this node; null: this machine (<see cref="SensorSources.Create"/>).</param>
    public static AkkaConfigurationBuilder WithScarcityGovernor(
        this AkkaConfigurationBuilder builder, DRGConfig config, Func<ActorSystem, ISensorSource>? source = null)
    {
        config.EnsureValid();
        GovernorEntities.RegisterSerialization();
        // A decision nobody subscribes to yet is normal, not a dead letter worth a log line.
        builder.AddHocon("""
            akka.cluster.pub-sub.send-to-dead-letters-when-no-subscribers = off
            # When a governor joins a running cluster (or the first one started alone), move up to 20 shards (at most
            # 10 % of them) per rebalance round instead of 3, so the profilers and actuators spread within seconds.
            akka.cluster.sharding.least-shard-allocation-strategy.rebalance-absolute-limit = 20
            akka.cluster.sharding.least-shard-allocation-strategy.rebalance-relative-limit = 0.1
            """, HoconAddMode.Prepend);

        if (config.Cluster.IsGovernor)
        {
            var options = new ShardOptions
            {
                Role = "governor",
                StateStoreMode = StateStoreMode.DData,
                RememberEntities = true,
                RememberEntitiesStore = RememberEntitiesStore.Eventsourced,
            };
            builder.WithShardRegion<GovernorActors.ProfilerRegion>(GovernorEntities.ProfilerType,
                    (system, registry) =>
                    {
                        // Created with the region, so it exists before the first (remembered) profiler starts.
                        var digest = system.ActorOf(TelemetryDigestActor.Props(config.ViewInterval), "telemetry-digest");
                        return host => ProfilerActor.Props(host, config.Profiler, config.Sensor.Interval,
                            registry.Get<GovernorActors.ActuatorRegion>(), digest);
                    },
                    new GovernorEntities.ProfilerExtractor(), options)
                .WithShardRegion<GovernorActors.ActuatorRegion>(GovernorEntities.ActuatorType,
                    (_, registry) => subsystem => ActuatorActor.Props(subsystem, config.Policy, config.Actuator,
                        registry.Get<GovernorActors.ProfilerRegion>()),
                    new GovernorEntities.ActuatorExtractor(), options);
        }
        else
        {
            builder.WithShardRegionProxy<GovernorActors.ProfilerRegion>(GovernorEntities.ProfilerType, "governor", new GovernorEntities.ProfilerExtractor())
                .WithShardRegionProxy<GovernorActors.ActuatorRegion>(GovernorEntities.ActuatorType, "governor", new GovernorEntities.ActuatorExtractor());
        }

        return builder.WithActors((system, registry) =>
        {
            var profilerRegion = registry.Get<GovernorActors.ProfilerRegion>();
            var actuatorRegion = registry.Get<GovernorActors.ActuatorRegion>();
            var decisionLog = system.ActorOf(DecisionLogActor.Props(config.DecisionLogSize), "decision-log");
            var policy = system.ActorOf(PolicyActor.Props(actuatorRegion), "policy");
            // A host missing from its node's digests for three view intervals (or three samples, if longer) shows stale.
            var staleAfter = TimeSpan.FromTicks(Math.Max((config.Sensor.Interval * config.Profiler.StaleAfterIntervals).Ticks, (config.ViewInterval * 3).Ticks));
            var monitor = system.ActorOf(MonitorActor.Props(staleAfter), "monitor");
            var profilers = system.ActorOf(ProfilerGateway.Props(profilerRegion), "profilers");
            registry.Register<GovernorActors.DecisionLog>(decisionLog);
            registry.Register<GovernorActors.Policy>(policy);
            registry.Register<GovernorActors.Monitor>(monitor);
            registry.Register<GovernorActors.Profilers>(profilers);

            // Subsystems and the CLI reach these through ClusterClient, never joining the cluster.
            var receptionist = Akka.Cluster.Tools.Client.ClusterClientReceptionist.Get(system);
            foreach (var service in new[] { policy, monitor, decisionLog, profilers }) receptionist.RegisterService(service);

            if (config.Cluster.Roles.Contains("sensor"))
            {
                var sensorSource = source?.Invoke(system) ?? SensorSources.Create(config, system.Log);
                var sensor = system.ActorOf(SensorActor.Props(config.Host, sensorSource, config.Sensor.Interval, profilerRegion), "sensor");
                registry.Register<GovernorActors.Sensor>(sensor);
            }
        });
    }

    /// <summary>Everything a governor node needs: serialization, cluster, persistence, the pipeline and the operations endpoint of the CLI.</summary>
    public static AkkaConfigurationBuilder WithScarcityNode(
        this AkkaConfigurationBuilder builder, DRGConfig config, Func<ActorSystem, ISensorSource>? source = null) =>
        config.Cluster.IsGovernor
            // A sensor-only node keeps no state: it needs no database, only the proxies to the governors' entities.
            ? builder.WithScarcitySerialization()
                .WithScarcityCluster(config)
                .WithScarcityPersistence(config.Persistence)
                .WithScarcityGovernor(config, source)
                .WithScarcityOperations(config)
            : builder.WithScarcitySerialization()
                .WithScarcityCluster(config)
                .WithScarcityGovernor(config, source)
                .WithScarcityOperations(config);
}
