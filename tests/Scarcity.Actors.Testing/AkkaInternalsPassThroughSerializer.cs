using System.Collections.Concurrent;
using Akka.Actor;
using System.Runtime.Serialization;
using Akka.Serialization;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Testing;

/// <summary>
/// Lets the specs run with <c>akka.actor.serialize-messages = on</c> although Akka's own local-only messages have no
/// serializer: the cluster daemon's commands (<c>InternalClusterAction+Subscribe</c>, <c>ClusterUserAction+JoinTo</c>), a
/// journal's <c>WriteFinished</c> and <c>Desequenced</c> (they carry tasks), Distributed Data's <c>ReadRepair</c>, the
/// commands an application gives its own ClusterClient actor. Akka's default sent them through Newtonsoft JSON, which
/// every actor system bound with <see cref="ScarcitySerialization"/> now refuses (<see cref="DisabledJsonSerializer"/>).
/// Bound here to <c>System.Object</c> in the specs' place of that default, this serializer hands the same object back for
/// a type of an Akka assembly, as the JVM's <c>no-serialization-verification-needed-class-prefix = ["akka."]</c> does, and
/// refuses any other type as production would: every message of ours still goes through
/// <see cref="ScarcitySerializer"/> (its binding is more specific) on every send. What Akka really sends between nodes
/// goes through its own serializers; the in-process cluster spec checks that nothing was refused on its real wire.
/// </summary>
public sealed class AkkaInternalsPassThroughSerializer(ExtendedActorSystem system) : Serializer(system)
{
    /// <summary>The HOCON that turns the check on and binds what has no serializer of its own to this one.</summary>
    public const string Hocon = """
        akka.actor.serialize-messages = on
        akka.actor.serializers.akka-internals-pass-through = "Scarcity.Actors.Testing.AkkaInternalsPassThroughSerializer, Scarcity.Actors.Testing"
        akka.actor.serialization-identifiers."Scarcity.Actors.Testing.AkkaInternalsPassThroughSerializer, Scarcity.Actors.Testing" = 4799
        akka.actor.serialization-bindings {
          "System.Object" = akka-internals-pass-through
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
        if (obj.GetType().Assembly.GetName().Name?.StartsWith("Akka", StringComparison.Ordinal) != true)
            throw new SerializationException($"{obj.GetType().FullName} has no serializer binding (only Akka's own local messages pass through in the specs)");
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
