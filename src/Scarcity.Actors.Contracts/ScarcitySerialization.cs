using Akka.Configuration;

namespace Scarcity.Actors.Contracts;

/// <summary>
/// The one place that binds <see cref="ScarcitySerializer"/> to every <see cref="IScarcityMessage"/>. Governor nodes,
/// subsystems (<c>Scarcity.Actors.Client</c>), the CLI and test probes all take their binding from here, so no actor
/// system talking to the governor can fall back to Akka's default JSON serializer for one of our messages.
/// </summary>
public static class ScarcitySerialization
{
    /// <summary>The serializer's name in <c>akka.actor.serializers</c>.</summary>
    public const string SerializerName = "scarcity";

    /// <summary>The HOCON that registers the serializer and binds the <see cref="IScarcityMessage"/> marker to it.</summary>
    public static string Hocon { get; } = $$"""
        akka.actor {
          serializers.{{SerializerName}} = "{{typeof(ScarcitySerializer).FullName}}, {{typeof(ScarcitySerializer).Assembly.GetName().Name}}"
          serialization-bindings { "{{typeof(IScarcityMessage).FullName}}, {{typeof(IScarcityMessage).Assembly.GetName().Name}}" = {{SerializerName}} }
        }
        """;

    /// <summary><see cref="Hocon"/> parsed, to put in front of an actor system's configuration.</summary>
    public static Config Config { get; } = ConfigurationFactory.ParseString(Hocon);
}
