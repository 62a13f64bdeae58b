using Akka.Actor;
using Xunit;

namespace Scarcity.Actors.Contracts.Tests;

/// <summary>What the message specs share: <paramref name="message"/> written by <see cref="ScarcitySerializer"/> and read back by its manifest.</summary>
internal static class ManifestRoundTrip
{
    /// <summary>The manifest <paramref name="message"/> is written with, and the message read back from its bytes by it.</summary>
    public static (string Manifest, object Back) Of(ActorSystem system, object message)
    {
        var serializer = system.Serialization.FindSerializerFor(message);
        Assert.IsType<ScarcitySerializer>(serializer);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, message);
        return (manifest, system.Serialization.Deserialize(serializer.ToBinary(message), serializer.Identifier, manifest));
    }
}
