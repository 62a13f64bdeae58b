using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Sharding;

/// <summary>The entity types of the governor, how messages find their entity, and how their regions are set up.</summary>
public static class GovernorEntities
{
    /// <summary>Entity type of the per-host profilers.</summary>
    public const string ProfilerType = "profiler";

    /// <summary>Entity type of the per-subsystem actuators.</summary>
    public const string ActuatorType = "actuator";

    /// <summary>The role of the nodes that host the entities and their persistence.</summary>
    public const string GovernorRole = "governor";

    /// <summary>Shards per entity type; fixed once a cluster runs (a restart with another value strands state).</summary>
    public const int MaxShards = 100;

    /// <summary>
    /// The regions' options: entities live on <see cref="GovernorRole"/> nodes; the coordinator's state in Distributed
    /// Data (not the deprecated persistence store); remembered entities in the journal, so they restart on a survivor at
    /// once after a failover (the ddata remember store would need durable LMDB).
    /// </summary>
    public static ShardOptions RegionOptions() => new()
    {
        Role = GovernorRole,
        StateStoreMode = StateStoreMode.DData,
        RememberEntities = true,
        RememberEntitiesStore = RememberEntitiesStore.Eventsourced,
    };

    /// <summary>Routes <see cref="IWithHost"/> messages to the profiler entity of their host.</summary>
    public sealed class ProfilerExtractor() : HashCodeMessageExtractor(MaxShards)
    {
        /// <inheritdoc />
        public override string? EntityId(object message) => message is IWithHost m ? m.Host : null;
    }

    /// <summary>Routes <see cref="IWithSubsystem"/> messages to the actuator entity of their subsystem.</summary>
    public sealed class ActuatorExtractor() : HashCodeMessageExtractor(MaxShards)
    {
        /// <inheritdoc />
        public override string? EntityId(object message) => message is IWithSubsystem m ? m.Subsystem : null;
    }
}
