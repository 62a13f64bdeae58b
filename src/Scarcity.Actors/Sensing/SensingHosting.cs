using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Metrics;
using Scarcity.Actors.Sensing.Scrape;

namespace Scarcity.Actors.Sensing;

/// <summary>Akka.Hosting set-up of the sensing stage.</summary>
public static class SensingHosting
{
    /// <summary>
    /// On a <c>sensor</c> node, starts this host's <see cref="SensorActor"/> at <c>/user/sensor</c>, sending its samples
    /// to the profiler region. <paramref name="source"/> null: this machine (<see cref="SensorSources.Create"/>). The
    /// Prometheus endpoints of this host's subsystems (<see cref="DRGConfig.Scrape"/>) are scraped beside it.
    /// Needs <see cref="Profiling.ProfilingHosting.WithProfilers"/>.
    /// </summary>
    public static AkkaConfigurationBuilder WithSensor(this AkkaConfigurationBuilder builder, DRGConfig config,
        Func<ActorSystem, ISensorSource>? source = null)
    {
        if (!config.Cluster.Roles.Contains("sensor")) return builder;
        return builder.WithActors((system, registry) =>
        {
            var sensorSource = source?.Invoke(system)
                               ?? SensorSources.Create(config.Sensor, config.Gpu, line => system.Log.Info(line), line => system.Log.Warning(line));
            var targets = config.Scrape.TargetsOf(config.Host);
            if (targets.Count > 0)
            {
                var errors = GovernorMetrics.Get(system).ScrapeErrors;
                // Under its own category (Scarcity.*), so an endpoint answering again is logged at Information.
                var log = Logging.GetLogger(system, typeof(ScrapeSensorSource));
                sensorSource = SensorSources.WithScrape(sensorSource,
                    new ScrapeSensorSource(targets, config.Sensor.Interval, line => log.Info(line), line => log.Warning(line),
                        (target, _) => errors.WithLabels(target.Url, target.Subsystem).Inc()),
                    line => log.Info(line));
            }
            var sensor = system.ActorOf(SensorActor.Props(config.Host, sensorSource, config.Sensor.Interval,
                registry.Get<GovernorActors.ProfilerRegion>()), "sensor");
            registry.Register<GovernorActors.Sensor>(sensor);
        });
    }
}
