using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Event;
using Akka.Hosting;
using Akka.Hosting.Logging;
using Akka.Discovery.KubernetesApi;
using Akka.Management;
using Akka.Management.Cluster.Bootstrap;
using Akka.Persistence.Sql.Hosting;
using Akka.Remote.Hosting;
using LinqToDB;
using Scarcity.Actors.Actuation;
using Scarcity.Actors.Budgets;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Monitoring;
using Scarcity.Actors.Recording;
using Scarcity.Actors.Operations;
using Scarcity.Actors.Profiling;
using Scarcity.Actors.Registration;
using Scarcity.Actors.Sensing;

namespace Scarcity.Actors.Hosting;

/// <summary>Akka.Hosting set-up of the governor.</summary>
public static class GovernorHostingExtensions
{
    /// <summary>The actor system name every node of a governor cluster shares.</summary>
    public const string SystemName = "scarcity";

    /// <summary>
    /// Binds <see cref="ScarcitySerializer"/> to every governor message and event (<see cref="ScarcitySerialization"/>,
    /// the binding subsystems and the CLI use too).
    /// </summary>
    public static AkkaConfigurationBuilder WithScarcitySerialization(this AkkaConfigurationBuilder builder) =>
        builder.AddHocon(ScarcitySerialization.Hocon, HoconAddMode.Prepend);

    /// <summary>
    /// Remoting and cluster membership from <see cref="DRGConfig.Cluster"/>: with no seed nodes the node forms a
    /// one-node cluster with itself.
    /// </summary>
    public static AkkaConfigurationBuilder WithScarcityCluster(this AkkaConfigurationBuilder builder, DRGConfig config)
    {
        var cluster = config.Cluster;
        var bootstrap = cluster.Bootstrap.Enabled;
        var seeds = bootstrap ? []
            : cluster.SeedNodes.Count > 0 ? cluster.SeedNodes.ToArray()
            : cluster.Port > 0 ? [$"{cluster.Scheme}://{SystemName}@{cluster.Hostname}:{cluster.Port}"] : [];
        builder.WithRemoting(cluster.Hostname, cluster.Port).WithScarcityTls(cluster.Tls)
            .WithClustering(new ClusterOptions { Roles = cluster.Roles.ToArray(), SeedNodes = seeds })
            // Keep-majority counts the governor nodes only: sensor-only GPU hosts come and go without deciding a partition.
            .AddHocon($$"""
                akka.cluster.split-brain-resolver.active-strategy = keep-majority
                akka.cluster.split-brain-resolver.keep-majority.role = governor
                akka.cluster.split-brain-resolver.stable-after = {{(int)cluster.StableAfter.TotalMilliseconds}}ms
                # One node per address: DotNetty's default (reuse on all but Windows) sets SO_REUSEADDR, which .NET on Linux
                # maps to SO_REUSEPORT too, so a second node on a taken port bound it as well and both answered.
                akka.remote.dot-netty.tcp.tcp-reuse-addr = off
                {{(cluster.DownRemovalMargin > TimeSpan.Zero ? $"akka.cluster.down-removal-margin = {(int)cluster.DownRemovalMargin.TotalMilliseconds}ms" : "")}}
                """, HoconAddMode.Prepend);
        if (bootstrap) builder.WithScarcityClusterBootstrap(cluster);
        else if (seeds.Length == 0)
            builder.AddStartup((system, _) => Akka.Cluster.Cluster.Get(system).Join(Akka.Cluster.Cluster.Get(system).SelfAddress));
        // One line an operator (and scripts/cluster.sh) can wait for, with Akka's own membership chatter below Warning.
        builder.AddStartup((system, _) =>
        {
            var self = Akka.Cluster.Cluster.Get(system);
            self.RegisterOnMemberUp(() => Logging.GetLogger(system, typeof(GovernorHostingExtensions))
                .Info("Node {0} is Up in the cluster (roles {1})", self.SelfAddress, string.Join(", ", cluster.Roles)));
        });
        return builder;
    }

    /// <summary>
    /// TLS for remoting (<see cref="TlsConfig"/>, <see cref="RemotingTls"/>): the transport's certificate and validator,
    /// <c>enable-ssl</c> on. Nothing when TLS is off.
    /// </summary>
    /// <exception cref="DRGConfigException">The certificate or CA file cannot be used (wrong password, no private key, not PEM); the message names the key and the file.</exception>
    public static AkkaConfigurationBuilder WithScarcityTls(this AkkaConfigurationBuilder builder, TlsConfig tls)
    {
        if (tls.ToOptions() is not { } options) return builder;
        return builder.AddSetup(TlsSetup(options)).AddHocon(RemotingTls.Hocon(options), HoconAddMode.Prepend);
    }

    /// <summary>
    /// Opens the certificate and CA files of <paramref name="tls"/> (when enabled), so that a program can refuse to start
    /// with one clear line before it builds its host.
    /// </summary>
    /// <exception cref="DRGConfigException">A file cannot be used; the message names the key and the file.</exception>
    public static void EnsureTlsUsable(TlsConfig tls)
    {
        if (tls.ToOptions() is { } options) TlsSetup(options).Certificate.Dispose();
    }

    private static Akka.Remote.Transport.DotNetty.DotNettySslSetup TlsSetup(RemotingTlsOptions options)
    {
        try
        {
            return RemotingTls.CreateSetup(options);
        }
        catch (ArgumentException e)
        {
            throw new DRGConfigException([$"{TlsConfig.Section}: {e.Message}"]);
        }
    }

    /// <summary>
    /// Cluster bootstrap (<see cref="ClusterBootstrapConfig"/>): this node's Akka.Management endpoint, Kubernetes API
    /// discovery of the pods labelled <c>app=ServiceName</c>, and bootstrap, which forms the cluster once
    /// <c>RequiredContactPoints</c> pods answer or joins the one they already form.
    /// </summary>
    private static AkkaConfigurationBuilder WithScarcityClusterBootstrap(this AkkaConfigurationBuilder builder, ClusterConfig cluster)
    {
        var bootstrap = cluster.Bootstrap;
        return builder
            .WithAkkaManagement(hostName: cluster.Hostname, port: bootstrap.ManagementPort, bindHostname: "0.0.0.0", bindPort: bootstrap.ManagementPort)
            .WithClusterBootstrap(serviceName: bootstrap.ServiceName, portName: bootstrap.PortName, requiredContactPoints: bootstrap.RequiredContactPoints)
            .WithKubernetesDiscovery();
    }

    /// <summary>
    /// Akka's log events go to the host's Microsoft.Extensions.Logging (its levels, its console or JSON formatter), not
    /// to Akka's own stdout logger. Akka passes Info and above; which of them are printed is the host's
    /// <c>Logging:LogLevel</c> (Akka's categories are the classes that log, e.g. <c>Akka.Remote.EndpointWriter</c>).
    /// Noise for an operator is off: dead letters while the node stops, and remoting's per-association lifecycle
    /// events (a CLI or a client going away is a normal event, not a warning with a stack trace).
    /// </summary>
    /// <param name="builder">The Akka builder.</param>
    /// <param name="loggerFactory">The host's logger factory (from the service provider <c>AddAkka</c> hands over).</param>
    public static AkkaConfigurationBuilder WithScarcityLogging(this AkkaConfigurationBuilder builder, Microsoft.Extensions.Logging.ILoggerFactory loggerFactory)
    {
        builder.ConfigureLoggers(setup =>
        {
            setup.LogLevel = LogLevel.InfoLevel;
            setup.ClearLoggers();
            setup.AddLogger<GovernorLogger>();
        });
        builder.AddSetup(new LoggerFactorySetup(loggerFactory));
        return builder.AddHocon("""
            akka.log-dead-letters-during-shutdown = off
            akka.remote.log-remote-lifecycle-events = off
            """, HoconAddMode.Prepend)
            .AddHocon($"akka.stdout-logger-class = \"{typeof(WarningsOnlyStdoutLogger).AssemblyQualifiedName}\"", HoconAddMode.Prepend);
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
    /// The governor's pipeline on this node, stage by stage: the profilers and actuators (sharded entities on a
    /// <c>governor</c> node, proxies elsewhere), registration, the fleet view and decision log, and on a <c>sensor</c>
    /// node this host's sensor. Serialization, cluster and persistence come from <see cref="WithScarcitySerialization"/>,
    /// <see cref="WithScarcityCluster"/> and <see cref="WithScarcityPersistence"/>, or all at once from
    /// <see cref="WithScarcityNode"/>.
    /// </summary>
    /// <param name="builder">The Akka builder.</param>
    /// <param name="config">The configuration; validated here.</param>
    /// <param name="source">The sensor source of this node; null: this machine (<see cref="SensorSources.Create"/>).</param>
    public static AkkaConfigurationBuilder WithScarcityGovernor(
        this AkkaConfigurationBuilder builder, DRGConfig config, Func<ActorSystem, ISensorSource>? source = null)
    {
        config.EnsureValid();
        // A decision nobody subscribes to yet is normal, not a dead letter worth a log line.
        builder.AddHocon("""
            akka.cluster.pub-sub.send-to-dead-letters-when-no-subscribers = off
            # When a governor joins a running cluster (or the first one started alone), move up to 20 shards (at most
            # 10 % of them) per rebalance round instead of 3, so the profilers and actuators spread within seconds.
            akka.cluster.sharding.least-shard-allocation-strategy.rebalance-absolute-limit = 20
            akka.cluster.sharding.least-shard-allocation-strategy.rebalance-relative-limit = 0.1
            """, HoconAddMode.Prepend);
        return builder
            .WithRecording(config) // before the profilers: they look the recorder up when they start
            .WithProfilers(config)
            .WithActuators(config)
            .WithRegistration(config.Operations.MaxSubsystemsPerHost)
            .WithMonitoring(config)
            .WithBudgets(config)
            .WithSensor(config, source);
    }

    /// <summary>Everything a governor node needs: serialization, cluster, persistence, the pipeline and the operations endpoint of the CLI.</summary>
    public static AkkaConfigurationBuilder WithScarcityNode(
        this AkkaConfigurationBuilder builder, DRGConfig config, Func<ActorSystem, ISensorSource>? source = null)
    {
        builder.WithScarcitySerialization().WithScarcityCluster(config);
        // A sensor-only node keeps no state: it needs no database, only the proxies to the governors' entities.
        if (config.Cluster.IsGovernor) builder.WithScarcityPersistence(config.Persistence);
        return builder.WithScarcityGovernor(config, source).WithOperations(config);
    }
}
