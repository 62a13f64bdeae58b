using Akka.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Scarcity.Actors.Configuration;
using Akka.Event;
using Scarcity.Actors;
using Scarcity.Actors.Hosting;
using Scarcity.Actors.Host;
using Scarcity.Actors.Host.Bench;
using Scarcity.Actors.Host.Demo;
using Scarcity.Actors.Sensing;

var demo = args.Contains("--demo");
int? IntArg(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : null;
var simulatedHosts = IntArg("--simulate-hosts");
var benchSeconds = IntArg("--bench-collector");
var benchWarmup = IntArg("--bench-warmup") ?? 20;
var simulateAfterMembers = IntArg("--simulate-after-members") ?? 1;
var configIndex = Array.IndexOf(args, "--config");
var configFile = configIndex >= 0 && configIndex + 1 < args.Length ? args[configIndex + 1] : null;
var valued = new[] { "--config", "--simulate-hosts", "--simulate-after-members", "--bench-collector", "--bench-warmup" }
    .Select(n => Array.IndexOf(args, n)).Where(i => i >= 0).SelectMany(i => new[] { i, i + 1 }).ToHashSet();
var rest = args.Where((a, i) => a != "--demo" && !valued.Contains(i)).ToArray();
// No reload-on-change: it watches the whole working directory (recursively, on Linux with inotify), and a governor
// whose logs or database live below it would spend a core on file events. A configuration change needs a restart.
var bootstrap = new ConfigurationManager();
bootstrap.AddInMemoryCollection(new Dictionary<string, string?> { ["hostBuilder:reloadConfigOnChange"] = "false" });
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = rest, Configuration = bootstrap });
if (configFile is not null)
{
    if (!File.Exists(configFile))
    {
        Console.Error.WriteLine($"--config: file '{configFile}' does not exist");
        return 2;
    }
    builder.Configuration.AddJsonFile(Path.GetFullPath(configFile), optional: false);
    builder.Configuration.AddEnvironmentVariables();
    builder.Configuration.AddCommandLine(rest);
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

var engine = demo ? new DemoEngine() : null;
builder.Services.AddAkka(GovernorHostingExtensions.SystemName, (akka, _) =>
{
    akka.WithScarcityNode(config, engine is null ? null : system => SensorSources.Create(config.Sensor, config.Gpu, line => system.Log.Info(line), line => system.Log.Warning(line), engine.Gpu));
    if (engine is not null)
        akka.WithActors((system, registry) =>
            system.ActorOf(DemoEngineActor.Props(engine, config.Host, registry.Get<GovernorActors.Registration>(), registry.Get<GovernorActors.Profilers>()), "demo-engine"));
    if (simulatedHosts is > 0)
        akka.WithActors((system, registry) => SimulatedFleet.StartWhenMembersUp(system, simulateAfterMembers, config.Host, simulatedHosts.Value, config.Sensor.Interval,
            registry.Get<GovernorActors.Profilers>(), registry.Get<GovernorActors.Registration>()));
    if (benchSeconds is > 0)
        akka.WithActors((system, _) => system.ActorOf(BenchCollector.Props(TimeSpan.FromSeconds(benchWarmup), benchSeconds.Value, config.Sensor.Interval), "bench-collector"));
});
builder.Services.AddSingleton(config);
builder.Services.AddHostedService<StatusPrinter>();

Console.WriteLine($"Scarcity governor on {config.Host}: {config.Persistence.Provider} at {config.Persistence.ConnectionString}, " +
                  $"sampling every {config.Sensor.Interval.TotalMilliseconds} ms{(demo ? ", with the simulated inference engine (--demo)" : "")}. Ctrl+C stops.");
await builder.Build().RunAsync();
return 0;
