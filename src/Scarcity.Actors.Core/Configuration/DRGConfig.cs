using Microsoft.Extensions.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Actuation;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Profiling;
using Scarcity.Actors.Sensing;
using Scarcity.Actors.Sensing.Nvml;
using Scarcity.Actors.Sensing.Scrape;

namespace Scarcity.Actors.Configuration;

/// <summary>Where decisions and state are persisted.</summary>
public sealed class PersistenceConfig : IValidatedConfig
{
    /// <summary>The configuration section these settings are bound from.</summary>
    public const string Section = "Scarcity:Persistence";

    /// <summary><c>Sqlite</c> (one node, the default) or <c>PostgreSQL</c> (a cluster). <value>Sqlite</value></summary>
    public string Provider { get; set; } = "Sqlite";

    /// <summary>The connection string. <value>Data Source=./data/scarcity.db</value></summary>
    public string ConnectionString { get; set; } = "Data Source=./data/scarcity.db";

    /// <summary>
    /// Events (decisions, registrations, attachments) one entity keeps in memory while the database does not take them;
    /// beyond this the oldest is dropped and counted (<c>scarcity_journal_overflow_total</c>). At 4 samples a second
    /// a subsystem whose levels change every sample fills 10,000 in about 40 minutes. <value>10000</value>
    /// </summary>
    public int WriteBuffer { get; set; } = 10_000;

    /// <summary>The wait after the first failed journal write of an entity; it doubles per failure up to <see cref="WriteRetryMax"/>. <value>00:00:00.500</value></summary>
    public TimeSpan WriteRetryMin { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest wait between journal write attempts while the database is unreachable. <value>00:00:10</value></summary>
    public TimeSpan WriteRetryMax { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>One log line per distinct persistence error per this interval and entity type, repeats counted in the next line. <value>00:00:30</value></summary>
    public TimeSpan ErrorLogInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Every problem with this configuration, each naming its key.</summary>
    public IEnumerable<string> Validate(string section = Section)
    {
        if (!string.Equals(Provider, "Sqlite", StringComparison.OrdinalIgnoreCase) &&
            !string.Equals(Provider, "PostgreSQL", StringComparison.OrdinalIgnoreCase))
            yield return $"{section}:Provider must be Sqlite or PostgreSQL, was '{Provider}'";
        if (string.IsNullOrWhiteSpace(ConnectionString)) yield return $"{section}:ConnectionString is empty";
        if (WriteBuffer < 1) yield return $"{section}:WriteBuffer must be at least 1, was {WriteBuffer}";
        if (WriteRetryMin <= TimeSpan.Zero) yield return $"{section}:WriteRetryMin must be positive, was {WriteRetryMin}";
        if (WriteRetryMax < WriteRetryMin) yield return $"{section}:WriteRetryMax must be at least WriteRetryMin ({WriteRetryMin}), was {WriteRetryMax}";
        if (ErrorLogInterval <= TimeSpan.Zero) yield return $"{section}:ErrorLogInterval must be positive, was {ErrorLogInterval}";
    }
}

/// <summary>How this node joins the cluster. The default is a one-node cluster on loopback.</summary>
public sealed class ClusterConfig : IValidatedConfig
{
    /// <summary>The configuration section these settings are bound from.</summary>
    public const string Section = "Scarcity:Cluster";

    /// <summary>Address the node binds to. <value>127.0.0.1</value></summary>
    public string Hostname { get; set; } = "127.0.0.1";

    /// <summary>Port the node binds to; 0 picks a free one. <value>4053</value></summary>
    public int Port { get; set; } = 4053;

    /// <summary>Seed nodes (<c>akka.tcp://scarcity@host:port</c>); empty: the node seeds itself.</summary>
    public List<string> SeedNodes { get; set; } = [];

    /// <summary>Roles of this node: <c>governor</c> and/or <c>sensor</c>. <value>governor, sensor</value></summary>
    public List<string> Roles { get; set; } = ["governor", "sensor"];

    /// <summary>
    /// How long the split-brain resolver (keep-majority, counted over governor nodes) waits for the membership to be
    /// stable before it downs unreachable nodes; failover takes about this long plus failure detection. <value>20 s</value>
    /// </summary>
    public TimeSpan StableAfter { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// How long, after the resolver downed a node and it was removed, the survivors wait before they take over its
    /// shards and singletons (Akka's <c>down-removal-margin</c>): time for the downed side of a partition to stop its
    /// own entities first. Zero: as long as <see cref="StableAfter"/> (Akka's default), which doubles the failover
    /// time. A few seconds suffice: both sides of a partition decide at about the same time. <value>0 (= StableAfter)</value>
    /// </summary>
    public TimeSpan DownRemovalMargin { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// Forming the cluster through Akka.Management's cluster bootstrap and Kubernetes API discovery instead of
    /// <see cref="SeedNodes"/> (off by default). When enabled, <see cref="SeedNodes"/> must be empty.
    /// </summary>
    public ClusterBootstrapConfig Bootstrap { get; set; } = new();

    /// <summary>TLS for remoting (<see cref="TlsConfig"/>); off by default. With it on, seed nodes are <c>akka.ssl.tcp://</c> addresses.</summary>
    public TlsConfig Tls { get; set; } = new();

    /// <summary>The scheme of this cluster's node addresses: <c>akka.tcp</c>, or <c>akka.ssl.tcp</c> with TLS.</summary>
    public string Scheme => RemotingTls.Scheme(Tls.Enabled);

    /// <summary>True when this node hosts the governor's entities and persistence.</summary>
    public bool IsGovernor => Roles.Contains("governor");

    /// <summary>Every problem with this configuration, each naming its key.</summary>
    public IEnumerable<string> Validate(string section = Section)
    {
        if (Port is < 0 or > 65535) yield return $"{section}:Port must be in 0..65535, was {Port}";
        if (StableAfter <= TimeSpan.Zero) yield return $"{section}:StableAfter must be positive, was {StableAfter}";
        if (DownRemovalMargin < TimeSpan.Zero) yield return $"{section}:DownRemovalMargin must not be negative, was {DownRemovalMargin}";
        if (Roles.Count == 0) yield return $"{section}:Roles is empty (governor, sensor or both)";
        for (var i = 0; i < Roles.Count; i++)
            if (Roles[i] is not ("governor" or "sensor"))
                yield return $"{section}:Roles:{i} '{Roles[i]}' is not a role (governor, sensor)";
        for (var i = 0; i < SeedNodes.Count; i++)
            if (!SeedNodes[i].StartsWith(Scheme + "://", StringComparison.Ordinal))
                yield return $"{section}:SeedNodes:{i} '{SeedNodes[i]}' is not an {Scheme}:// address" +
                             (Tls.Enabled ? $" ({section}:Tls:Enabled is true)" : "");
        foreach (var problem in Tls.Validate($"{section}:Tls")) yield return problem;
        foreach (var problem in Bootstrap.Validate($"{section}:Bootstrap")) yield return problem;
        if (Bootstrap.Enabled && SeedNodes.Count > 0)
            yield return $"{section}:SeedNodes must be empty when {section}:Bootstrap:Enabled is true (bootstrap finds the nodes itself)";
    }
}

/// <summary>
/// Cluster bootstrap (Akka.Management) with Kubernetes API discovery: each governor pod lists the pods labelled
/// <c>app=<see cref="ServiceName"/></c>, asks their management endpoints, and the nodes form or join the cluster without
/// fixed seed nodes. The pod needs RBAC to list pods in its namespace (cluster-config/kubernetes/rbac.yaml).
/// </summary>
public sealed class ClusterBootstrapConfig : IValidatedConfig
{
    /// <summary>The configuration section these settings are bound from.</summary>
    public const string Section = "Scarcity:Cluster:Bootstrap";

    /// <summary>Whether the cluster forms through bootstrap instead of seed nodes. <value>false</value></summary>
    public bool Enabled { get; set; }

    /// <summary>The service name discovery looks for: the pods' <c>app</c> label. <value>scarcity-governor</value></summary>
    public string ServiceName { get; set; } = "scarcity-governor";

    /// <summary>The name of the pods' container port of the management endpoint. <value>management</value></summary>
    public string PortName { get; set; } = "management";

    /// <summary>The port of this node's management HTTP endpoint. <value>8558</value></summary>
    public int ManagementPort { get; set; } = 8558;

    /// <summary>
    /// How many contact points must be found before the first cluster is formed: as many as the governor
    /// StatefulSet's replicas, so that two partial clusters never form. <value>3</value>
    /// </summary>
    public int RequiredContactPoints { get; set; } = 3;

    /// <summary>Every problem with this configuration, each naming its key.</summary>
    public IEnumerable<string> Validate(string section = Section)
    {
        if (!Enabled) yield break;
        if (string.IsNullOrWhiteSpace(ServiceName)) yield return $"{section}:ServiceName is empty (the pods' app label, e.g. scarcity-governor)";
        if (string.IsNullOrWhiteSpace(PortName)) yield return $"{section}:PortName is empty (the container port's name, e.g. management)";
        if (ManagementPort is < 1 or > 65535) yield return $"{section}:ManagementPort must be in 1..65535, was {ManagementPort}";
        if (RequiredContactPoints < 1) yield return $"{section}:RequiredContactPoints must be at least 1, was {RequiredContactPoints}";
    }
}

/// <summary>
/// The node's HTTP endpoint for operators: <c>/metrics</c> (Prometheus exposition format), <c>/healthz</c> and
/// <c>/readyz</c>. See docs/operations.md.
/// </summary>
public sealed class MetricsConfig : IValidatedConfig
{
    /// <summary>The configuration section these settings are bound from.</summary>
    public const string Section = "Scarcity:Metrics";

    /// <summary>
    /// The port of the endpoint; 0 turns it off (no metrics, no health endpoints). 9464 is the port Prometheus's
    /// registry of exporters gives OpenTelemetry's Prometheus exporter. <value>9464</value>
    /// </summary>
    public int Port { get; set; } = 9464;

    /// <summary>
    /// The address it listens on: <c>127.0.0.1</c> (loopback, the default), <c>0.0.0.0</c> / <c>*</c> (every interface,
    /// for a Prometheus on another machine) or one address of this host. <value>127.0.0.1</value>
    /// </summary>
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>
    /// How long <c>/readyz</c> waits for the database to answer before it reports the node not ready. <value>2 s</value>
    /// </summary>
    public TimeSpan ReadinessTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>True when the endpoint is served.</summary>
    public bool Enabled => Port != 0;

    /// <summary>Every problem with this configuration, each naming its key.</summary>
    public IEnumerable<string> Validate(string section = Section)
    {
        if (Port is < 0 or > 65535) yield return $"{section}:Port must be in 0..65535 (0: off), was {Port}";
        if (Address is not ("*" or "0.0.0.0" or "localhost") && !System.Net.IPAddress.TryParse(Address, out _))
            yield return $"{section}:Address must be an IP address, * or localhost, was '{Address}'";
        if (ReadinessTimeout <= TimeSpan.Zero || ReadinessTimeout > TimeSpan.FromMinutes(1))
            yield return $"{section}:ReadinessTimeout must be between 0 and 00:01:00, was {ReadinessTimeout}";
    }
}

/// <summary>
/// The governor's configuration, as the old loop named it: the <c>Scarcity</c> section of appsettings.json and the
/// environment (<c>Scarcity__Sensor__Interval=00:00:00.500</c>). <see cref="Load"/> rejects unknown keys and
/// names every bad value, all at once, so a wrong configuration fails at start-up, not at 3 a.m.
/// </summary>
public sealed class DRGConfig : IValidatedConfig
{
    /// <summary>The configuration section. </summary>
    public const string Section = "Scarcity";

    /// <summary>The name of this host in metrics and decisions. <value>the machine name</value></summary>
    public string Host { get; set; } = Environment.MachineName;

    /// <summary>Sampling.</summary>
    public SensorConfig Sensor { get; set; } = new();

    /// <summary>Smoothing and forecasting.</summary>
    public ProfilerConfig Profiler { get; set; } = new();

    /// <summary>Rules and levels.</summary>
    public PolicyConfig Policy { get; set; } = new();

    /// <summary>Throttle delivery.</summary>
    public ActuatorConfig Actuator { get; set; } = new();

    /// <summary>GPU sensing through NVML; where there is no driver or GPU it logs one line and reports no GPU metric.</summary>
    public NvmlConfig Gpu { get; set; } = new();

    /// <summary>Persistence of decisions and state.</summary>
    public PersistenceConfig Persistence { get; set; } = new();

    /// <summary>Cluster membership.</summary>
    public ClusterConfig Cluster { get; set; } = new();

    /// <summary>The metrics and health endpoint.</summary>
    public MetricsConfig Metrics { get; set; } = new();

    /// <summary>The gRPC gateway (subsystems in any language, docs/gateway.md).</summary>
    public GatewayConfig Gateway { get; set; } = new();

    /// <summary>Prometheus endpoints of subsystems that the sensor scrapes (docs/scrape.md); none by default.</summary>
    public ScrapeConfig Scrape { get; set; } = new();

    /// <summary>The operator token of cluster-changing commands and the registration bounds.</summary>
    public OperationsConfig Operations { get; set; } = new();

    /// <summary>Telemetry recording for <c>scarcity replay</c> (off by default).</summary>
    public RecordingConfig Recording { get; set; } = new();

    /// <summary>How many recent decisions are kept for queries. <value>1000</value></summary>
    public int DecisionLogSize { get; set; } = 1000;

    /// <summary>
    /// How often each governor node sends the newest profiles of its hosts to every node's fleet view (the
    /// <c>drg.telemetry.digest</c> topic): the view lags the samples by at most this much. Decisions never wait for it.
    /// <value>1 s</value>
    /// </summary>
    public TimeSpan ViewInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Every problem with this configuration, each naming its key.</summary>
    public IEnumerable<string> Validate(string section = Section)
    {
        if (string.IsNullOrWhiteSpace(Host)) yield return $"{section}:Host is empty";
        if (DecisionLogSize < 1) yield return $"{section}:DecisionLogSize must be at least 1, was {DecisionLogSize}";
        if (ViewInterval < TimeSpan.FromMilliseconds(10) || ViewInterval > TimeSpan.FromMinutes(1))
            yield return $"{section}:ViewInterval must be between 00:00:00.010 and 00:01:00, was {ViewInterval}";
        IEnumerable<string>[] parts =
        [
            Sensor.Validate($"{section}:Sensor"), Profiler.Validate($"{section}:Profiler"), Policy.Validate($"{section}:Policy"),
            Actuator.Validate($"{section}:Actuator"), Persistence.Validate($"{section}:Persistence"), Gpu.Validate($"{section}:Gpu"),
            Cluster.Validate($"{section}:Cluster"), Metrics.Validate($"{section}:Metrics"), Scrape.Validate($"{section}:Scrape"),
            Gateway.Validate($"{section}:Gateway"),
            Operations.Validate($"{section}:Operations"), Recording.Validate($"{section}:Recording"),
        ];
        foreach (var e in parts.SelectMany(p => p)) yield return e;
    }

    /// <summary>Throws <see cref="DRGConfigException"/> listing every problem, if there is any.</summary>
    public DRGConfig EnsureValid() => this.EnsureValid(Section);

    /// <summary>
    /// Binds and validates the <c>Scarcity</c> section of <paramref name="configuration"/>. Every problem is reported at
    /// once, each naming its key: unknown keys (a typo such as <c>Scarcity:Sensor:IntervalMS</c>), values of the wrong
    /// type, and invalid values.
    /// </summary>
    /// <exception cref="DRGConfigException">At least one problem; <see cref="DRGConfigException.Errors"/> has them all.</exception>
    public static DRGConfig Load(IConfiguration configuration)
    {
        var config = Bind(configuration, out var errors);
        if (errors.Count > 0) throw new DRGConfigException(errors);
        return config;
    }

    /// <summary>
    /// Binds the <c>Scarcity</c> section of <paramref name="configuration"/> as far as it can and lists every problem in
    /// <paramref name="errors"/> (empty when the configuration is usable): the unknown keys, the values that do not convert
    /// to their type and the missing required ones (<see cref="ConfigurationShape"/>), then every invalid value of what
    /// binds (<see cref="Validate"/>). Never throws for a bad configuration; the result is only usable without errors.
    /// </summary>
    public static DRGConfig Bind(IConfiguration configuration, out IReadOnlyList<string> errors)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var config = new DRGConfig();
        // The binder adds configured list items to a list's defaults (index by index): a configured Roles list replaces
        // the default one, or "Roles": ["sensor"] would still make a governor node.
        if (configuration.GetSection($"{Section}:Cluster:Roles").GetChildren().Any()) config.Cluster.Roles = [];
        var shape = ConfigurationShape.Check(configuration.GetSection(Section), typeof(DRGConfig));
        var found = new List<string>(shape.Errors);
        try
        {
            shape.Bindable().Bind(config, o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException e)
        {
            // Whatever the shape check does not foresee still fails, as the binder words it.
            errors = [.. found, Describe(e)];
            return config;
        }
        found.AddRange(config.Validate(Section).Where(e => !shape.IsFollowOn(e)));
        errors = found;
        return config;
    }

    private static string Describe(InvalidOperationException e)
    {
        var messages = new List<string>();
        for (Exception? x = e; x is not null; x = x.InnerException) messages.Add(x.Message);
        return $"{Section}: {string.Join(" ", messages.Distinct())}";
    }
}

