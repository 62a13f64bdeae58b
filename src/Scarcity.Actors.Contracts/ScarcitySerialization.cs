using Akka.Configuration;

namespace Scarcity.Actors.Contracts;

/// <summary>
/// The one place that binds <see cref="ScarcitySerializer"/> to every <see cref="IScarcityMessage"/>. Governor nodes,
/// subsystems (<c>Scarcity.Actors.Client</c>), the CLI and test probes all take their binding from here, so no actor
/// system talking to the governor can fall back to Akka's default JSON serializer for one of our messages. It also
/// disables that default (Newtonsoft JSON, identifier 1, bound to <c>System.Object</c>, which honours <c>$type</c>):
/// <see cref="DisabledJsonSerializer"/> takes its name and identifier, so a payload naming any other type is refused
/// and counted (<see cref="WireRefusals"/>), and a type with no binding cannot be sent. Remoting's frames are limited to
/// <see cref="MaximumFrameSize"/>, our payloads to <see cref="ScarcitySerializer.MaximumPayloadSizeKey"/>.
/// </summary>
public static class ScarcitySerialization
{
    /// <summary>The serializer's name in <c>akka.actor.serializers</c>.</summary>
    public const string SerializerName = "scarcity";

    /// <summary>
    /// The largest remoting frame sent or read, in bytes: Akka's default, stated here so that every actor system that talks
    /// to the governor (node, client, CLI) agrees; a larger frame is dropped by the sender and closes the association at
    /// the receiver. The fleet view splits its digests to stay well under it.
    /// </summary>
    public const int MaximumFrameSize = 128000;

    /// <summary>The HOCON that registers the serializer and binds the <see cref="IScarcityMessage"/> marker to it.</summary>
    public static string Hocon { get; } = $$"""
        akka.actor {
          serializers.{{SerializerName}} = "{{typeof(ScarcitySerializer).FullName}}, {{typeof(ScarcitySerializer).Assembly.GetName().Name}}"
          serializers.json = "{{typeof(DisabledJsonSerializer).FullName}}, {{typeof(DisabledJsonSerializer).Assembly.GetName().Name}}"
          serialization-bindings { "{{typeof(IScarcityMessage).FullName}}, {{typeof(IScarcityMessage).Assembly.GetName().Name}}" = {{SerializerName}} }
        }
        akka.remote.dot-netty.tcp.maximum-frame-size = {{MaximumFrameSize}}b
        scarcity.serialization.maximum-payload-size = {{ScarcitySerializer.DefaultMaximumPayloadSize}}b
        """;

    /// <summary><see cref="Hocon"/> parsed, to put in front of an actor system's configuration.</summary>
    public static Config Config { get; } = ConfigurationFactory.ParseString(Hocon);
}
