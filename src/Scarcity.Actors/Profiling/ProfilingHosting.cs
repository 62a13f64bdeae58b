using Akka.Cluster.Hosting;
using Akka.Hosting;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Monitoring;
using Scarcity.Actors.Sharding;

namespace Scarcity.Actors.Profiling;

/// <summary>Akka.Hosting set-up of the profiling stage.</summary>
public static class ProfilingHosting
{
    /// <summary>
    /// The per-host <see cref="ProfilerActor"/> entities (on a <c>governor</c> node; a proxy elsewhere), this node's
    /// <see cref="TelemetryDigestActor"/> that feeds every fleet view, and the <see cref="ProfilerGateway"/> at
    /// <c>/user/profilers</c> (a ClusterClient service) that samples and app metrics enter by.
    /// </summary>
    public static AkkaConfigurationBuilder WithProfilers(this AkkaConfigurationBuilder builder, DRGConfig config)
    {
        if (config.Cluster.IsGovernor)
            builder.WithShardRegion<GovernorActors.ProfilerRegion>(GovernorEntities.ProfilerType,
                (system, registry) =>
                {
                    // Created with the region, so it exists before the first (remembered) profiler starts.
                    var digest = system.ActorOf(TelemetryDigestActor.Props(config.ViewInterval), "telemetry-digest");
                    return host => ProfilerActor.Props(host, config.Profiler, config.Sensor.Interval,
                        registry.Get<GovernorActors.ActuatorRegion>(), digest, config.Persistence);
                },
                new GovernorEntities.ProfilerExtractor(), GovernorEntities.RegionOptions());
        else
            builder.WithShardRegionProxy<GovernorActors.ProfilerRegion>(GovernorEntities.ProfilerType, GovernorEntities.GovernorRole,
                new GovernorEntities.ProfilerExtractor());

        return builder.WithActors((system, registry) =>
        {
            var profilers = system.ActorOf(ProfilerGateway.Props(registry.Get<GovernorActors.ProfilerRegion>()), "profilers");
            registry.Register<GovernorActors.Profilers>(profilers);
            Akka.Cluster.Tools.Client.ClusterClientReceptionist.Get(system).RegisterService(profilers);
        });
    }
}
