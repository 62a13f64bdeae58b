using Akka.Cluster.Hosting;
using Akka.Hosting;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Sharding;

namespace Scarcity.Actors.Actuation;

/// <summary>Akka.Hosting set-up of the actuation stage.</summary>
public static class ActuationHosting
{
    /// <summary>The per-subsystem <see cref="ActuatorActor"/> entities on a <c>governor</c> node; a proxy elsewhere.</summary>
    public static AkkaConfigurationBuilder WithActuators(this AkkaConfigurationBuilder builder, DRGConfig config) =>
        config.Cluster.IsGovernor
            ? builder.WithShardRegion<GovernorActors.ActuatorRegion>(GovernorEntities.ActuatorType,
                (_, registry) => subsystem => ActuatorActor.Props(subsystem, config.Policy, config.Actuator,
                    registry.Get<GovernorActors.ProfilerRegion>(), config.Persistence),
                new GovernorEntities.ActuatorExtractor(), HandingOffWhenWritten(GovernorEntities.RegionOptions()))
            : builder.WithShardRegionProxy<GovernorActors.ActuatorRegion>(GovernorEntities.ActuatorType, GovernorEntities.GovernorRole,
                new GovernorEntities.ActuatorExtractor());

    // On hand-off (rebalance, leave, shutdown) an actuator stops once its decisions are in the journal, not at once.
    private static ShardOptions HandingOffWhenWritten(ShardOptions options)
    {
        options.HandOffStopMessage = ActuatorActor.StopWhenWritten.Instance;
        return options;
    }
}
