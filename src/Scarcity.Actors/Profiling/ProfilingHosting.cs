using Akka.Cluster.Hosting;
using Akka.Hosting;
using Scarcity.Actors.Actuation;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Monitoring;
using Scarcity.Actors.Sharding;

namespace Scarcity.Actors.Profiling;

/// <summary>Akka.Hosting set-up of the profiling stage.</summary>
public static class ProfilingHosting
{
    /// <summary>
    /// The region of the per-host entities (<see cref="GovernorEntities.HostType"/>, on a <c>governor</c> node; a proxy
    /// elsewhere): each host's <see cref="ProfilerActor"/> and, in the same shard, the <see cref="ActuatorActor"/> of every
    /// subsystem on the host; this node's <see cref="TelemetryDigestActor"/> that feeds every fleet view; and the
    /// <see cref="ProfilerGateway"/> at <c>/user/profilers</c> (a ClusterClient service) that samples and app metrics enter by.
    /// </summary>
    public static AkkaConfigurationBuilder WithProfilers(this AkkaConfigurationBuilder builder, DRGConfig config)
    {
        if (config.Cluster.IsGovernor)
            builder.WithShardRegion<GovernorActors.ProfilerRegion>(GovernorEntities.HostType,
                (system, registry) =>
                {
                    // Created with the region, so it exists before the first (remembered) profiler starts.
                    var digest = system.ActorOf(TelemetryDigestActor.Props(config.ViewInterval), "telemetry-digest");
                    return entityId =>
                    {
                        // The region itself routes both ways (profile to actuator, attach to profiler): within a host's shard, a local hop.
                        var region = registry.Get<GovernorActors.ProfilerRegion>();
                        if (GovernorEntities.TryParseActuator(entityId, out var host, out var subsystem))
                            return ActuatorActor.Props(subsystem, config.Policy, config.Actuator, region, config.Persistence, host, digest);
                        return ProfilerActor.Props(GovernorEntities.ProfilerHostOf(entityId) ?? entityId, config.Profiler, config.Sensor.Interval,
                            region, digest, config.Persistence, actuatorsInMyShard: true);
                    };
                },
                new GovernorEntities.HostEntityExtractor(), HandingOffWhenWritten(GovernorEntities.RegionOptions()));
        else
            builder.WithShardRegionProxy<GovernorActors.ProfilerRegion>(GovernorEntities.HostType, GovernorEntities.GovernorRole,
                new GovernorEntities.HostEntityExtractor());

        return builder.WithActors((system, registry) =>
        {
            var profilers = system.ActorOf(ProfilerGateway.Props(registry.Get<GovernorActors.ProfilerRegion>()), "profilers");
            registry.Register<GovernorActors.Profilers>(profilers);
            Akka.Cluster.Tools.Client.ClusterClientReceptionist.Get(system).RegisterService(profilers);
        });
    }

    // On hand-off (rebalance, leave, shutdown) an actuator stops once its decisions are in the journal, not at once; a
    // profiler stops at once, as with the default hand-off message.
    private static ShardOptions HandingOffWhenWritten(ShardOptions options)
    {
        options.HandOffStopMessage = ActuatorActor.StopWhenWritten.Instance;
        return options;
    }
}
