using System.Collections.Immutable;

namespace Scarcity.Actors.Contracts;

/// <summary>Where the governor's actors can be reached through <c>ClusterClientReceptionist</c> (<c>ClusterClient.Send(path, msg)</c>).</summary>
public static class ServicePaths
{
    /// <summary>Registration and acks (<see cref="RegisterSubsystem"/>, <see cref="ThrottleAck"/>, <see cref="GetSubsystemStatus"/>).</summary>
    public const string Policy = "/user/policy";
    /// <summary>Samples and app metrics (<see cref="Sample"/>, <see cref="ReportMetrics"/>).</summary>
    public const string Profilers = "/user/profilers";
    /// <summary>The fleet view (<see cref="GetGovernorStatus"/>).</summary>
    public const string Monitor = "/user/monitor";
    /// <summary>Recent decisions (<see cref="GetRecentDecisions"/>).</summary>
    public const string DecisionLog = "/user/decision-log";
    /// <summary>Cluster and sharding operations and queries (<see cref="GetShardingState"/> and the CLI's messages).</summary>
    public const string Operations = "/user/operations";
    /// <summary>The node's telemetry recording (<see cref="GetRecording"/>), on governor nodes.</summary>
    public const string TelemetryRecorder = "/user/telemetry-recorder";
}

/// <summary>Asks a governor node where the sharded entities live; answered by <see cref="ShardingState"/>.</summary>
public sealed record GetShardingState : IScarcityMessage
{
    /// <summary>The one instance.</summary>
    public static readonly GetShardingState Instance = new();
}

/// <summary>The shards and entities of one region on one node.</summary>
/// <param name="Node">The node's address (<c>akka.tcp://scarcity@127.0.0.1:4053</c>).</param>
/// <param name="Region">The entity type: <c>profiler</c> (one per host) or <c>actuator</c> (one per subsystem).</param>
/// <param name="Shards">Shard id to the entity ids it holds.</param>
public sealed record ShardRegionState(string Node, string Region, ImmutableDictionary<string, ImmutableArray<string>> Shards) : IScarcityMessage;

/// <summary>Every region's shards and entities, per node, as the cluster knows them now.</summary>
/// <param name="Regions">One entry per (node, region).</param>
public sealed record ShardingState(ImmutableArray<ShardRegionState> Regions) : IScarcityMessage;
