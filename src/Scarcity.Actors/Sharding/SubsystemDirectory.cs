using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;

namespace Scarcity.Actors.Sharding;

/// <summary>
/// Which host each subsystem is registered on, in Distributed Data (an <see cref="LWWDictionary{TKey,TValue}"/> of
/// subsystem name to host, replicated to every node by gossip). Written by the actuator when it accepts a registration
/// or resumes one; read by the registration front door to route what names only a subsystem (a
/// <see cref="Contracts.ThrottleAck"/> or <see cref="Contracts.GetSubsystemStatus"/> without a host) and to send a
/// registration on a new host to the actuator that holds the subsystem's state first. A lagging entry costs an extra
/// hop (the actuator on the wrong host passes the message on to the host its journal names), never a second writer.
/// </summary>
public static class SubsystemDirectory
{
    /// <summary>The Distributed Data key: <c>scarcity-subsystem-hosts</c>.</summary>
    public static readonly LWWDictionaryKey<string, string> Key = new("scarcity-subsystem-hosts");

    /// <summary>Records that <paramref name="subsystem"/> is on <paramref name="host"/> (local write, gossiped to the other nodes).</summary>
    public static void Record(ActorSystem system, string subsystem, string host)
    {
        var cluster = Cluster.Get(system);
        DistributedData.Get(system).Replicator.Tell(Dsl.Update(Key, LWWDictionary<string, string>.Empty, WriteLocal.Instance,
            d => d.TryGetValue(subsystem, out var known) && known == host ? d : d.SetItem(cluster, subsystem, host)));
    }

    /// <summary>Subscribes <paramref name="subscriber"/> to the directory: it receives <see cref="Changed"/> on every change.</summary>
    public static void Subscribe(ActorSystem system, IActorRef subscriber) =>
        DistributedData.Get(system).Replicator.Tell(Dsl.Subscribe(Key, subscriber));
}
