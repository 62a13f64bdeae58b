using Akka.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Testing;

namespace Scarcity.Actors.Tests;

/// <summary>The actor system one actor's spec runs it in.</summary>
internal static class ActorSpecConfig
{
    /// <summary>
    /// A node of its own on loopback (the cluster provider, which DistributedPubSub needs; a spec joins it to itself when the
    /// actor publishes across members), the in-memory journal and snapshot store, our serializer, quiet logs.
    /// </summary>
    public static Config LocalNode { get; } = ConfigurationFactory.ParseString("""
        akka.loglevel = WARNING
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        """).WithFallback(ScarcitySerialization.Config);

    /// <summary><see cref="LocalNode"/> with every message serialised on every send (Akka's local-only internals pass through).</summary>
    public static Config LocalNodeVerifyingSerialization { get; } =
        ConfigurationFactory.ParseString(AkkaInternalsPassThroughSerializer.Hocon).WithFallback(LocalNode);
}
