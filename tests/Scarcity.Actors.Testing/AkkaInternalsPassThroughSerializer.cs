using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Serialization;

namespace Scarcity.Actors.Testing;

/// <summary>
/// Lets the specs run with <c>akka.actor.serialize-messages = on</c> although some of Akka's own local-only messages
/// cannot be serialised by the default serializer: a journal's <c>WriteFinished</c> and <c>Desequenced</c> (they carry
/// tasks between a journal and its own actors), Distributed Data's <c>ReadRepair</c> (from a read aggregator to its own
/// replicator; its serializer has no form for it), and the commands an application gives its own ClusterClient actor
/// (<c>ClusterClient.Send</c>, <c>SendToAll</c>, <c>Publish</c>; the client re-wraps them into DistributedPubSub messages
/// for the wire, where our payload goes through <see cref="Scarcity.Actors.Contracts.ScarcitySerializer"/>). Only those
/// types are bound to it: the check's round trip hands the same object back, as the JVM's
/// <c>no-serialization-verification-needed-class-prefix</c> does for Akka's classes. Every message of ours is still
/// serialised and read back on every send.
/// </summary>
public sealed class AkkaInternalsPassThroughSerializer(ExtendedActorSystem system) : Serializer(system)
{
    /// <summary>The HOCON that turns the check on and binds those local-only messages to this serializer.</summary>
    public const string Hocon = """
        akka.actor.serialize-messages = on
        akka.actor.serializers.akka-internals-pass-through = "Scarcity.Actors.Testing.AkkaInternalsPassThroughSerializer, Scarcity.Actors.Testing"
        akka.actor.serialization-identifiers."Scarcity.Actors.Testing.AkkaInternalsPassThroughSerializer, Scarcity.Actors.Testing" = 4799
        akka.actor.serialization-bindings {
          "Akka.Persistence.Sql.Journal.Types.WriteFinished, Akka.Persistence.Sql" = akka-internals-pass-through
          "Akka.Persistence.Journal.AsyncWriteJournal+Desequenced, Akka.Persistence" = akka-internals-pass-through
          "Akka.DistributedData.Internal.ReadRepair, Akka.DistributedData" = akka-internals-pass-through
          "Akka.Cluster.Tools.Client.ClusterClient+Send, Akka.Cluster.Tools" = akka-internals-pass-through
          "Akka.Cluster.Tools.Client.ClusterClient+SendToAll, Akka.Cluster.Tools" = akka-internals-pass-through
          "Akka.Cluster.Tools.Client.ClusterClient+Publish, Akka.Cluster.Tools" = akka-internals-pass-through
        }
        """;

    private static readonly ConcurrentDictionary<Guid, object> InFlight = new();

    /// <inheritdoc />
    public override int Identifier => 4799;

    /// <inheritdoc />
    public override bool IncludeManifest => false;

    /// <inheritdoc />
    public override byte[] ToBinary(object obj)
    {
        var key = Guid.NewGuid();
        InFlight[key] = obj;
        return key.ToByteArray();
    }

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, Type type) =>
        InFlight.TryRemove(new Guid(bytes), out var obj)
            ? obj
            : throw new InvalidOperationException("a pass-through message was read twice or never written");
}
