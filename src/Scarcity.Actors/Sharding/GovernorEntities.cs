using System.Collections.Immutable;
using Akka.Cluster.Sharding;
using Scarcity.Actors.Actuation;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Profiling;

namespace Scarcity.Actors.Sharding;

/// <summary>Tells a host's profiler entity that a subsystem runs there, so its profiles reach that subsystem's actuator.</summary>
/// <param name="Host">The host.</param>
/// <param name="Subsystem">The subsystem.</param>
public sealed record AttachSubsystem(string Host, string Subsystem) : IScarcityMessage, IWithHost;

/// <summary>Tells a host's profiler entity that a subsystem no longer runs there.</summary>
/// <param name="Host">The host.</param>
/// <param name="Subsystem">The subsystem.</param>
public sealed record DetachSubsystem(string Host, string Subsystem) : IScarcityMessage, IWithHost;

/// <summary>Snapshot of a profiler entity: every series' EMA and Kalman state and the subsystems on the host.</summary>
/// <param name="Series">State per series.</param>
/// <param name="Subsystems">Subsystems attached to the host.</param>
/// <param name="RejectedValues">Readings rejected so far.</param>
public sealed record ProfilerSnapshot(ImmutableDictionary<string, SeriesState> Series, ImmutableArray<string> Subsystems, long RejectedValues)
    : IScarcityMessage;

/// <summary>The entity types of the governor and how messages find their entity.</summary>
public static class GovernorEntities
{
    /// <summary>Entity type of the per-host profilers.</summary>
    public const string ProfilerType = "profiler";

    /// <summary>Entity type of the per-subsystem actuators.</summary>
    public const string ActuatorType = "actuator";

    /// <summary>Shards per entity type; fixed once a cluster runs (a restart with another value strands state).</summary>
    public const int MaxShards = 100;

    /// <summary>Gives the governor's own persisted and wire types their stable manifests; idempotent.</summary>
    public static void RegisterSerialization()
    {
        ScarcitySerializer.Register(typeof(ActuatorSnapshot), "actuator-snapshot.v1");
        ScarcitySerializer.Register(typeof(AttachSubsystem), "attach-subsystem.v1");
        ScarcitySerializer.Register(typeof(DetachSubsystem), "detach-subsystem.v1");
        ScarcitySerializer.Register(typeof(ProfilerSnapshot), "profiler-snapshot.v1");
    }

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
