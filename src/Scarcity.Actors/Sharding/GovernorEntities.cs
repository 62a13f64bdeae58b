using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;
using Akka.Util;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Sharding;

/// <summary>
/// The entity types of the governor, how messages find their entity, and how their region is set up.
/// Issue 15: a host's profiler and the actuators of the subsystems registered on that host are entities of one region
/// (<see cref="HostType"/>) in one shard, the shard of their host: they live on one node and move together on failover
/// and rebalance, so a sample crosses nodes at most once (sensor to profiler) and the profile reaches its actuators as a
/// local message, never serialized.
/// </summary>
public static class GovernorEntities
{
    /// <summary>Entity kind of the per-host profilers (their journal writer's and metrics' label).</summary>
    public const string ProfilerType = "profiler";

    /// <summary>Entity kind of the per-subsystem actuators (their journal writer's and metrics' label).</summary>
    public const string ActuatorType = "actuator";

    /// <summary>
    /// The one region type of the per-host entities: profiler <c>p|host</c> and actuators <c>a|host|subsystem</c>, all in
    /// the shard of their host. (Releases before issue 15 had two region types, <c>profiler</c> and <c>actuator</c>; the
    /// persistence ids did not change, so their state recovers; their remembered entities start again on the first sample.)
    /// </summary>
    public const string HostType = "host";

    /// <summary>The role of the nodes that host the entities and their persistence.</summary>
    public const string GovernorRole = "governor";

    /// <summary>Shards of the region; fixed once a cluster runs (a restart with another value strands state).</summary>
    public const int MaxShards = 100;

    private const string ProfilerPrefix = "p|";
    private const string ActuatorPrefix = "a|";

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

    /// <summary>The entity id of <paramref name="host"/>'s profiler: <c>p|host</c>.</summary>
    public static string ProfilerEntityId(string host) => ProfilerPrefix + host;

    /// <summary>
    /// The entity id of <paramref name="subsystem"/>'s actuator on <paramref name="host"/>: <c>a|host|subsystem</c>
    /// (a subsystem name never holds '|', a host name may: the subsystem is what follows the last '|').
    /// </summary>
    public static string ActuatorEntityId(string host, string subsystem) => ActuatorPrefix + host + "|" + subsystem;

    /// <summary>The host of a profiler's entity id, or null when <paramref name="entityId"/> is not one.</summary>
    public static string? ProfilerHostOf(string entityId) =>
        entityId.StartsWith(ProfilerPrefix, StringComparison.Ordinal) ? entityId[ProfilerPrefix.Length..] : null;

    /// <summary>The host and subsystem of an actuator's entity id; false when <paramref name="entityId"/> is not one.</summary>
    public static bool TryParseActuator(string entityId, out string host, out string subsystem)
    {
        host = subsystem = "";
        var last = entityId.LastIndexOf('|');
        if (!entityId.StartsWith(ActuatorPrefix, StringComparison.Ordinal) || last < ActuatorPrefix.Length || last == entityId.Length - 1) return false;
        host = entityId[ActuatorPrefix.Length..last];
        subsystem = entityId[(last + 1)..];
        return true;
    }

    /// <summary>The host an entity id belongs to (the part its shard is derived from); the whole id when it is neither kind.</summary>
    public static string HostOf(string entityId) =>
        ProfilerHostOf(entityId) ?? (TryParseActuator(entityId, out var host, out _) ? host : entityId);

    /// <summary>The shard of everything of <paramref name="host"/>: a stable hash of the host name modulo <see cref="MaxShards"/>.</summary>
    public static string ShardOf(string host) => ShardIds[Math.Abs(MurmurHash.StringHash(host) % MaxShards)];

    // "0" to "99", made once: every message through a region or a shard asks for its shard id.
    private static readonly string[] ShardIds = [.. Enumerable.Range(0, MaxShards).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>
    /// Routes every message of a host to its entity in the host's shard: <see cref="IWithHost"/> messages (samples, app
    /// metrics, attach/detach) to the profiler; <see cref="RegisterSubsystem"/>, <see cref="EvaluateProfile"/>,
    /// <see cref="HandOverSubsystem"/> and the <see cref="ThrottleAck"/>/<see cref="GetSubsystemStatus"/> that name their
    /// host to the subsystem's actuator. An ack or status query without a host is not routable here (null): the
    /// registration front door gives it the host from the <see cref="SubsystemDirectory"/> first. (Akka handles
    /// <c>ShardingEnvelope</c> and <c>StartEntity</c> itself, before the extractor.)
    /// </summary>
    public sealed class HostEntityExtractor : IMessageExtractor
    {
        /// <inheritdoc />
        public string? EntityId(object message) => Route(message) switch
        {
            ({ } host, { } subsystem) => ActuatorEntityId(host, subsystem),
            ({ } host, null) => ProfilerEntityId(host),
            _ => null,
        };

        // The host of a routable message and, for an actuator's, its subsystem (null for the profiler's); null when the
        // message is not routable. The shard id needs only the host, so it is read without building the entity id.
        private static (string Host, string? Subsystem)? Route(object message) => message switch
        {
            RegisterSubsystem r => (r.Host, r.Name),
            EvaluateProfile e => (e.Profile.Host, e.Subsystem),
            HandOverSubsystem h => (h.Host, h.Register.Name),
            ThrottleAck { Host: { } host } a => (host, a.Subsystem),
            GetSubsystemStatus { Host: { } host } q => (host, q.Subsystem),
            HostPeers p => (p.Host, p.Subsystem),
            // A cap of an older owner names no host: the actuator of no host passes it on to the host its journal names.
            ApplyBudgetCap c => (c.Host ?? "", c.Subsystem),
            IWithHost m => (m.Host ?? "", null), // a host-less message goes to the shard of ""
            _ => null,
        };

        /// <inheritdoc />
        public object? EntityMessage(object message) => message;

        /// <inheritdoc />
        public string? ShardId(object message) => Route(message) is { } route ? ShardOf(route.Host) : null;

        /// <inheritdoc />
        public string ShardId(string entityId, object? messageHint = null) => ShardOf(HostOf(entityId));
    }
}
