using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;

namespace Scarcity.Actors.Sharding;

/// <summary>
/// Which host each subsystem is registered on, in Distributed Data: an <see cref="ORSet{T}"/> of placements
/// <c>subsystem|host</c> (<see cref="Placement"/>), replicated to every node by gossip. Written by the actuator when it
/// accepts a registration or resumes one; read by the registration front door to route what names only a subsystem (a
/// <see cref="Contracts.ThrottleAck"/> or <see cref="Contracts.GetSubsystemStatus"/> without a host) and to send a
/// registration on a new host to the actuator that holds the subsystem's state first. A lagging entry costs an extra
/// hop (the actuator on the wrong host passes the message on to the host its journal names), never a second writer.
/// </summary>
/// <remarks>
/// Why a set of strings and not an <c>LWWDictionary</c> (the directory's type before session 10): the replicator gossips
/// a key's whole value whenever the SHA-1 of its serialized form differs between two nodes, and Akka.NET 1.5 serializes a
/// dictionary's entries in the order of the process's randomized string hashes. The same 500 entries gave three
/// different digests in three processes, so every node sent and merged the whole directory on every gossip round,
/// forever (7 % of a governor's CPU at 500 hosts, growing with the fleet; docs/performance-cluster.md, session 10). An
/// <see cref="ORSet{T}"/> of strings serializes its elements sorted: equal sets have equal digests, and gossip stops
/// once the nodes agree. Releases before that used the key <c>scarcity-subsystem-hosts</c>; this one uses another key
/// (<see cref="Key"/>), so nodes of both releases never merge values of two types under one key during a rolling upgrade.
/// </remarks>
public static class SubsystemDirectory
{
    /// <summary>The Distributed Data key: <c>scarcity-subsystem-placements</c>.</summary>
    public static readonly ORSetKey<string> Key = new("scarcity-subsystem-placements");

    // A subsystem name never holds it (SubsystemNames.Rule), a host name may: a placement splits at its first one.
    private const char Separator = '|';

    /// <summary>The set element that places <paramref name="subsystem"/> on <paramref name="host"/>: <c>subsystem|host</c>.</summary>
    public static string Placement(string subsystem, string host) => subsystem + Separator + host;

    /// <summary>
    /// Records that <paramref name="subsystem"/> is on <paramref name="host"/>: through this node's
    /// <see cref="SubsystemDirectoryWriter"/>, which skips a placement the directory already holds and writes the others in
    /// one local update per <see cref="SubsystemDirectoryWriter.Linger"/> (gossiped to the other nodes).
    /// </summary>
    public static void Record(ActorSystem system, string subsystem, string host) =>
        SubsystemDirectoryWriters.Get(system).Writer.Tell(new SubsystemDirectoryWriter.Place(subsystem, host));

    /// <summary>
    /// <paramref name="placements"/> with <paramref name="subsystem"/> on <paramref name="host"/> and on no other host; the
    /// same instance when it already says so (the replicator then has nothing to write or gossip).
    /// </summary>
    public static ORSet<string> Placed(ORSet<string> placements, UniqueAddress node, string subsystem, string host) =>
        Placed(placements, node, new Dictionary<string, string>(StringComparer.Ordinal) { [subsystem] = host });

    /// <summary>
    /// <paramref name="placements"/> with each subsystem of <paramref name="hostOf"/> on its host and on no other host, in
    /// one pass over the set; the same instance when it already says so.
    /// </summary>
    public static ORSet<string> Placed(ORSet<string> placements, UniqueAddress node, IReadOnlyDictionary<string, string> hostOf)
    {
        var result = placements;
        foreach (var element in placements) // the set's own enumerator: Elements would copy the whole set first
            if (TrySplit(element, out var subsystem, out var host) && hostOf.TryGetValue(subsystem, out var placed) && host != placed)
                result = result.Remove(node, element);
        foreach (var (subsystem, host) in hostOf)
        {
            var placement = Placement(subsystem, host);
            if (!result.Contains(placement)) result = result.Add(node, placement);
        }
        return result;
    }

    /// <summary>
    /// Subsystem to host, from the placements. Two nodes that placed one subsystem at the same time (a registration moving
    /// while a resume records the old host) both survive a merge until its next placement; the host first in ordinal order
    /// is taken, the same on every node, and a wrong pick costs one hop.
    /// </summary>
    public static ImmutableDictionary<string, string> HostsOf(ORSet<string> placements)
    {
        var hosts = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var element in placements)
            if (TrySplit(element, out var subsystem, out var host) && (!hosts.TryGetValue(subsystem, out var known) || string.CompareOrdinal(host, known) < 0))
                hosts[subsystem] = host;
        return hosts.ToImmutable();
    }

    /// <summary>The subsystem and host of a placement <c>subsystem|host</c> (split at its first separator); false when it is none.</summary>
    public static bool TrySplit(string placement, out string subsystem, out string host)
    {
        var split = placement.IndexOf(Separator);
        (subsystem, host) = split > 0 ? (placement[..split], placement[(split + 1)..]) : ("", "");
        return split > 0;
    }

    /// <summary>Subscribes <paramref name="subscriber"/> to the directory: it receives <see cref="Changed"/> on every change.</summary>
    public static void Subscribe(ActorSystem system, IActorRef subscriber) =>
        DistributedData.Get(system).Replicator.Tell(Dsl.Subscribe(Key, subscriber));
}
