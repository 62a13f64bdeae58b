using System.CommandLine;
using System.CommandLine.Parsing;
using Akka.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Scarcity.Actors;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.FleetBench;
using Scarcity.Actors.Hosting;
using Scarcity.Actors.Host;

// The fleet benchmark's node (scripts/bench-cluster.sh starts three): a governor node composed exactly as the Host
// composes one (WithScarcityNode, the status lines), which also samples N simulated hosts and, with --collect, prints one
// BENCH line of drops and decision latency. Settings as the Host's, without appsettings.json: --config, then environment
// variables, then command-line keys.
const string DefaultDatabase = "Data Source=./data/fleet-bench.db";

var configOption = new Option<FileInfo>("--config")
{
    HelpName = "file", Description = "A JSON file with the Scarcity section (scripts/bench-cluster.sh writes one per node)",
};
var hostsOption = new Option<int>("--hosts")
{
    HelpName = "n", Description = "Simulated hosts this node samples (4 Hz at the default interval, 10 series each; 0: none)", Required = true,
};
var afterMembersOption = new Option<int>("--start-after-members")
{
    HelpName = "n", Description = "Start the simulated hosts once this many cluster members are up", DefaultValueFactory = _ => 1,
};
var collectOption = new Option<int>("--collect")
{
    HelpName = "seconds", Description = "Measure for this many seconds after the warm-up, then print the BENCH line (0: no collector)",
};
var warmupOption = new Option<int>("--warmup")
{
    HelpName = "seconds", Description = "Seconds before the collector's window opens", DefaultValueFactory = _ => 20,
};
var probeOption = new Option<bool>("--probe")
{
    Description = "Print a PROBE line every second: the host region's entities, fresh and stale hosts, decisions (the start-up mode of scripts/bench-cluster.sh)",
};
AtLeast(hostsOption, 0);
AtLeast(afterMembersOption, 1);
AtLeast(collectOption, 0);
AtLeast(warmupOption, 0);
var root = new RootCommand(
    "A governor node that also samples simulated hosts and measures the governor under that fleet (scripts/bench-cluster.sh)." +
    Environment.NewLine + Environment.NewLine +
    $"Any configuration key can be overridden on the command line, e.g. --Scarcity:Sensor:Interval=00:00:00.500, or in the environment. " +
    $"Unless configured, the node keeps its state in {DefaultDatabase["Data Source=".Length..]}.")
{
    configOption, hostsOption, afterMembersOption, collectOption, warmupOption, probeOption,
};
root.TreatUnmatchedTokensAsErrors = false; // the configuration keys, for Microsoft.Extensions.Configuration's command line
root.SetAction((parse, _) => RunNodeAsync(parse.GetValue(configOption), parse.GetValue(hostsOption), parse.GetValue(afterMembersOption),
    parse.GetValue(collectOption), parse.GetValue(warmupOption), parse.GetValue(probeOption), [.. parse.UnmatchedTokens]));

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    foreach (var error in parsed.Errors) Console.Error.WriteLine(error.Message);
    Console.Error.WriteLine("Try '--help'.");
    return 2;
}
// Ctrl+C and SIGTERM belong to the generic host: a stopping node leaves the cluster.
return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

static async Task<int> RunNodeAsync(FileInfo? configFile, int hosts, int afterMembers, int collectSeconds, int warmupSeconds, bool probe, string[] overrides)
{
    // No reload-on-change (a watcher costs CPU the measurement would include); nothing is read from the working directory.
    var bootstrap = new ConfigurationManager();
    bootstrap.AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["hostBuilder:reloadConfigOnChange"] = "false",
        ["Scarcity:Persistence:ConnectionString"] = DefaultDatabase,
    });
    var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
    {
        Args = overrides, Configuration = bootstrap, ContentRootPath = AppContext.BaseDirectory,
    });
    if (configFile is not null)
    {
        if (!configFile.Exists)
        {
            Console.Error.WriteLine($"--config: file '{configFile}' does not exist");
            return 2;
        }
        builder.Configuration.AddJsonFile(configFile.FullName, optional: false);
        builder.Configuration.AddEnvironmentVariables();
        builder.Configuration.AddCommandLine(overrides);
    }

    DRGConfig config;
    try
    {
        config = DRGConfig.Load(builder.Configuration);
    }
    catch (DRGConfigException e)
    {
        Console.Error.WriteLine(e.Message);
        return 2;
    }

    builder.Services.AddAkka(GovernorHostingExtensions.SystemName, (akka, _) =>
    {
        akka.WithScarcityNode(config);
        // For A/B runs of Akka settings (dispatchers, remoting): HOCON in front of everything the node composes.
        if (Environment.GetEnvironmentVariable("BENCH_HOCON") is { Length: > 0 } hocon) akka.AddHocon(hocon, HoconAddMode.Prepend);
        if (hosts > 0)
            akka.WithActors((system, registry) => SimulatedFleet.StartWhenMembersUp(system, afterMembers, config.Host, hosts, config.Sensor.Interval,
                registry.Get<GovernorActors.Profilers>(), registry.Get<GovernorActors.ProfilerRegion>(), registry.Get<GovernorActors.Registration>()));
        if (probe)
            akka.WithActors((system, registry) => system.ActorOf(
                StartupProbe.Props(registry.Get<GovernorActors.ProfilerRegion>(), config.ViewInterval), "startup-probe"));
        if (collectSeconds > 0)
            akka.WithActors((system, _) => system.ActorOf(
                BenchCollector.Props(TimeSpan.FromSeconds(warmupSeconds), collectSeconds, config.Sensor.Interval), "bench-collector"));
    });
    builder.Services.AddSingleton(config);
    builder.Services.AddHostedService<StatusPrinter>();
    var gcReport = Environment.GetEnvironmentVariable("BENCH_GC_REPORT");
    if (gcReport is "1" or "alloc") builder.Services.AddHostedService(_ => new GcPauseReport(config.Host, allocations: gcReport == "alloc"));

    Console.WriteLine($"Fleet benchmark node {config.Host}: {hosts} simulated hosts once {afterMembers} members are up" +
                      $"{(collectSeconds > 0 ? $", collecting for {collectSeconds} s after {warmupSeconds} s" : "")}; " +
                      $"{config.Persistence.Provider} at {config.Persistence.ConnectionString}. Ctrl+C stops.");
    await builder.Build().RunAsync();
    return 0;
}

static void AtLeast(Option<int> option, int minimum) => option.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int>() < minimum) result.AddError($"{option.Name} must be at least {minimum}, was {result.GetValueOrDefault<int>()}");
});
