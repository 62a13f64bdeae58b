using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;

namespace Scarcity.Actors.Contracts;

/// <summary>
/// Takes the place of Akka's default Newtonsoft JSON serializer (name <c>json</c>, identifier 1, bound to
/// <c>System.Object</c>), which honours <c>$type</c> and would instantiate any type a peer names. It reads nothing and
/// writes nothing: a payload arriving under identifier 1 is refused before any type is created, and a message of a type
/// with no other binding fails to send with an error naming the type. Every message of ours is bound to
/// <see cref="ScarcitySerializer"/>; Akka's own messages (cluster, sharding, distributed data, pub-sub, cluster client,
/// remoting system messages, persistence) have their own protobuf serializers. Refusals are counted in
/// <see cref="WireRefusals"/>. The same idea as the JVM Akka's <c>DisabledJavaSerializer</c>.
/// </summary>
public sealed class DisabledJsonSerializer : Serializer
{
    /// <summary>Created by Akka's serialization extension.</summary>
    public DisabledJsonSerializer(ExtendedActorSystem system) : base(system) { }

    /// <summary>
    /// Created by Akka's serialization extension when <c>akka.actor.serialization-settings.json</c> exists (Akka's own
    /// reference configuration has it, for the serializer this one replaces); the settings are not used.
    /// </summary>
    public DisabledJsonSerializer(ExtendedActorSystem system, Akka.Configuration.Config settings) : base(system) => _ = settings;

    /// <summary>Akka's identifier of its Newtonsoft JSON serializer, which this one replaces.</summary>
    public const int NewtonsoftIdentifier = 1;

    /// <inheritdoc />
    public override int Identifier => NewtonsoftIdentifier;

    /// <inheritdoc />
    public override bool IncludeManifest => true;

    /// <inheritdoc />
    public override byte[] ToBinary(object obj)
    {
        WireRefusals.Get(system).Record(WireRefusals.DisabledSerializer, $"no serializer binding for {obj.GetType().FullName}");
        throw new SerializationException(
            $"{obj.GetType().FullName} has no serializer binding: only the messages declared in {nameof(ScarcitySerializer)}'s manifests " +
            "and Akka's own messages may be sent (Akka's Newtonsoft JSON fallback is disabled)");
    }

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, Type type)
    {
        WireRefusals.Get(system).Record(WireRefusals.DisabledSerializer,
            $"a payload of {bytes.Length} bytes under serializer id {NewtonsoftIdentifier} (Newtonsoft JSON) naming {type?.FullName ?? "no type"}");
        throw new SerializationException(
            $"Serializer id {NewtonsoftIdentifier} (Akka's Newtonsoft JSON) is disabled on this node: the payload naming {type?.FullName ?? "no type"} was refused");
    }
}
