using System.CommandLine;
using Akka;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Gateway;
using Scarcity.Actors.Hosting;
using Scarcity.Actors.Host;
using Scarcity.Actors.Samples.SimulatedEngine;

// The governor service: one node of a governor cluster, composed from the actor shell (WithScarcityNode) and the status
// lines. Settings: appsettings.json beside this program, or the file given with --config in its place; then environment
// variables and command-line keys, each overriding the ones before.
const string DemoSubsystem = "demo_engine";
const string DemoDatabase = "Data Source=./data/scarcity-demo.db";

var configOption = new Option<FileInfo>("--config")
{
    HelpName = "file",
    Description = "A JSON file with the Scarcity section (e.g. cluster-config/single-node.json), read instead of the appsettings.json beside this program",
};
var demoOption = new Option<bool>("--demo")
{
    Description = $"Also run a simulated GPU inference engine ('{DemoSubsystem}') in this process, governed through the client as a separate program " +
                  $"would be; unless a connection string is configured, its state goes to {DemoDatabase["Data Source=".Length..]}",
};
var logFormatOption = new Option<string>("--log-format")
{
    HelpName = "format",
    Description = "How log lines are written to the console: 'simple' (one line each, the default) or 'json' (one JSON object each, structured fields)",
    DefaultValueFactory = _ => "simple",
};
logFormatOption.AcceptOnlyFromAmong("simple", "json");
var root = new RootCommand(
    "Runs a node of the Scarcity governor: samples this host, profiles, decides and sends Throttles to the governed subsystems." +
    Environment.NewLine + Environment.NewLine +
    "Any configuration key can be overridden on the command line, e.g. --Scarcity:Sensor:Interval=00:00:00.500, " +
    "or in the environment, e.g. Scarcity__Sensor__Interval=00:00:00.500.")
{
    configOption, demoOption, logFormatOption,
};
root.TreatUnmatchedTokensAsErrors = false; // the configuration keys, for Microsoft.Extensions.Configuration's command line
root.SetAction((parse, _) => RunNodeAsync(parse.GetValue(configOption), parse.GetValue(demoOption), parse.GetValue(logFormatOption) == "json", [.. parse.UnmatchedTokens]));

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    foreach (var error in parsed.Errors) Console.Error.WriteLine(error.Message);
    Console.Error.WriteLine("Try '--help'.");
    return 2;
}
// Ctrl+C and SIGTERM belong to the generic host: a stopping node leaves the cluster, which may take more than a moment.
return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

static async Task<int> RunNodeAsync(FileInfo? configFile, bool demo, bool jsonLogs, string[] overrides)
{
    // No reload-on-change: it watches the content root recursively (inotify on Linux), and a governor whose logs or
    // database live below it would spend a core on file events. A configuration change needs a restart.
    var bootstrap = new ConfigurationManager();
    bootstrap.AddInMemoryCollection(new Dictionary<string, string?> { ["hostBuilder:reloadConfigOnChange"] = "false" });
    // Log levels under every file (a --config file rarely has a Logging section): the governor's lines, Akka's warnings.
    bootstrap.AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["Logging:LogLevel:Default"] = "Warning",
        ["Logging:LogLevel:Scarcity"] = "Information",
        ["Logging:LogLevel:Akka"] = "Warning",
        // Membership (a node joined, is Up, unreachable, downed, removed): a few lines per node and event, worth seeing.
        ["Logging:LogLevel:Akka.Cluster"] = "Information",
        ["Logging:LogLevel:Akka.Cluster.Sharding"] = "Warning",
        ["Logging:LogLevel:Akka.Cluster.Tools"] = "Warning",
        ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Information",
    });
    HostApplicationBuilder builder;
    DRGConfig config;
    try
    {
        builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = overrides,
            Configuration = bootstrap,
            // The appsettings.json copied beside this program, wherever it is started from (`dotnet run --project` included).
            ContentRootPath = AppContext.BaseDirectory,
        });
        if (configFile is not null)
        {
            if (!configFile.Exists)
            {
                Console.Error.WriteLine($"--config: file '{configFile}' does not exist");
                return StartupChecks.ConfigurationError;
            }
            UseInsteadOfAppSettings(builder.Configuration, configFile.FullName);
        }
        if (demo) UseDemoDatabaseUnlessConfigured(builder.Configuration);
        config = DRGConfig.Load(builder.Configuration);
        GovernorHostingExtensions.EnsureTlsUsable(config.Cluster.Tls);
    }
    catch (DRGConfigException e)
    {
        Console.Error.WriteLine(e.Message);
        return StartupChecks.ConfigurationError;
    }
    catch (InvalidDataException e) when (StartupChecks.DescribeConfigurationFileError(e) is { } line)
    {
        Console.Error.WriteLine(line);
        return StartupChecks.ConfigurationError;
    }
    // One node per address, and a data directory it can write: said in one line before anything starts.
    var problem = (config.Cluster.IsGovernor ? StartupChecks.CheckDataDirectory(config.Persistence) : null)
                  ?? StartupChecks.CheckAddressFree($"{ClusterConfig.Section}:Port", config.Cluster.Hostname, config.Cluster.Port)
                  ?? (config.Metrics.Enabled ? StartupChecks.CheckAddressFree($"{MetricsConfig.Section}:Port", config.Metrics.Address, config.Metrics.Port) : null)
                  ?? (config.Gateway.Enabled ? StartupChecks.CheckAddressFree($"{GatewayConfig.Section}:Port", config.Gateway.Address, config.Gateway.Port) : null);
    if (problem is not null)
    {
        Console.Error.WriteLine(problem);
        return StartupChecks.EnvironmentError;
    }

    builder.Logging.ClearProviders();
    if (jsonLogs) builder.Logging.AddJsonConsole(o => { o.UseUtcTimestamp = true; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ"; });
    else builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
    builder.Services.AddAkka(GovernorHostingExtensions.SystemName, (akka, services) =>
    {
        akka.WithScarcityLogging(services.GetRequiredService<ILoggerFactory>()).WithScarcityNode(config)
            .WithSensorNodeSettings(config); // a sensor-only node: a coarser scheduler tick (fewer idle wake-ups)
        if (demo) akka.AddStartup((system, _) => StartDemoEngine(system, config.Host, config.Cluster.Tls.ToOptions()));
    });
    builder.Services.AddSingleton(config);
    builder.Services.AddHostedService<StatusPrinter>();
    builder.Services.AddOperatorEndpoint(); // /metrics, /healthz, /readyz on Scarcity:Metrics
    builder.Services.AddGatewayEndpoint(); // gRPC scarcity.v1.Governor on Scarcity:Gateway

    Console.WriteLine($"Scarcity governor on {config.Host}: {config.Persistence.Provider} at {ConnectionStrings.Redact(config.Persistence.ConnectionString)}, " +
                      $"sampling every {config.Sensor.Interval.TotalMilliseconds} ms" +
                      $"{(demo ? $", with the simulated inference engine {DemoSubsystem} (--demo)" : "")}. Ctrl+C stops.");
    using var host = builder.Build();
    try
    {
        // The actor system first, on its own: remoting binds here, and Akka.Hosting would log a failure and stop with 0.
        var system = host.Services.GetRequiredService<ActorSystem>();
        await host.RunAsync();
        // Akka may stop the node itself (an outbound TLS handshake that failed): the reason's exit code, and a line why.
        if (StartupChecks.DescribeSelfShutdown(CoordinatedShutdown.Get(system).ShutdownReason, config) is var (code, why))
        {
            Console.Error.WriteLine(why);
            return code;
        }
    }
    catch (Exception e) when (StartupChecks.DescribeStartFailure(e, config) is { } line)
    {
        Console.Error.WriteLine(line);
        return StartupChecks.EnvironmentError;
    }
    return 0;
}

// A node's file is its whole configuration, not a patch over appsettings.json (lists such as Roles would merge item by
// item); environment variables and command-line keys still override it.
static void UseInsteadOfAppSettings(IConfigurationBuilder configuration, string path)
{
    var sources = configuration.Sources;
    var appSettings = sources.OfType<JsonConfigurationSource>()
        .Where(s => s.Path?.StartsWith("appsettings.", StringComparison.OrdinalIgnoreCase) == true).ToList();
    var index = appSettings.Count > 0 ? sources.IndexOf(appSettings[0]) : sources.Count;
    foreach (var source in appSettings) sources.Remove(source);
    var file = new JsonConfigurationSource { Path = path, Optional = false, ReloadOnChange = false };
    file.ResolveFileProvider();
    sources.Insert(index, file);
}

// The demo keeps its own SQLite file, so that a real engine never inherits the demo's levels and sequences.
static void UseDemoDatabaseUnlessConfigured(ConfigurationManager configuration)
{
    var sqlite = string.Equals(configuration["Scarcity:Persistence:Provider"] ?? "Sqlite", "Sqlite", StringComparison.OrdinalIgnoreCase);
    if (sqlite && configuration["Scarcity:Persistence:ConnectionString"] is null)
        configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Scarcity:Persistence:ConnectionString"] = DemoDatabase });
}

// The demo engine is a user's program in all but its process: it connects through ClusterClient to this node's address.
static void StartDemoEngine(ActorSystem system, string host, Scarcity.Actors.Contracts.RemotingTlsOptions? tls)
{
    var engine = SimulatedInferenceEngine.Start(new SimulatedEngineOptions
    {
        Name = DemoSubsystem,
        Host = host,
        Scenario = "demo",
        Contacts = [Akka.Cluster.Cluster.Get(system).SelfAddress.ToString()],
        ExtraHocon = "akka.loglevel = WARNING",
        Tls = tls, // with TLS on, the engine presents this node's own certificate
        WriteLine = line => Console.WriteLine($"  >> {DemoSubsystem} {line}"),
    });
    // The first thing a stopping node does: the engine goes before the governor it talks to.
    CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, "stop-demo-engine", async () =>
    {
        await engine.DisposeAsync();
        return Done.Instance;
    });
}
