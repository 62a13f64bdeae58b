using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Scarcity.Actors.Hosting;
using Scarcity.Actors.Host;
using Scarcity.Actors.Host.Demo;
using Scarcity.Actors.Sensing;

var demo = args.Contains("--demo");
var builder = Host.CreateApplicationBuilder(args.Where(a => a != "--demo").ToArray());

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
