using Akka.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Scarcity.Actors.Hosting;
using Scarcity.Actors.Host;
using Scarcity.Actors.Host.Demo;
using Scarcity.Actors.Sensing;

var demo = args.Contains("--demo");
var configIndex = Array.IndexOf(args, "--config");
var configFile = configIndex >= 0 && configIndex + 1 < args.Length ? args[configIndex + 1] : null;
var rest = args.Where((a, i) => a != "--demo" && (configIndex < 0 || (i != configIndex && i != configIndex + 1))).ToArray();
var builder = Host.CreateApplicationBuilder(rest);
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
    akka.WithScarcityNode(config, engine is null ? null : system => SensorSources.Create(config, system.Log, engine.Gpu));
    if (engine is not null)
        akka.WithActors((system, registry) =>
            system.ActorOf(DemoEngineActor.Props(engine, config.Host, registry.Get<GovernorActors.Policy>(), registry.Get<GovernorActors.Profilers>()), "demo-engine"));
});
builder.Services.AddSingleton(config);
builder.Services.AddHostedService<StatusPrinter>();

Console.WriteLine($"Scarcity governor on {config.Host}: {config.Persistence.Provider} at {config.Persistence.ConnectionString}, " +
                  $"sampling every {config.Sensor.IntervalMs} ms{(demo ? ", with the simulated inference engine (--demo)" : "")}. Ctrl+C stops.");
await builder.Build().RunAsync();
return 0;
