using System.Security.Cryptography;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.DistributedData;
using Scarcity.Actors.Sharding;

namespace Scarcity.Actors.Tests.Sharding;

/// <summary>
/// The entry point of this test assembly (the test SDK's generated one is off): with <c>directory-digest</c> it prints the
/// SHA-1 of the subsystem directory's serialized form, for the same placements written in the same order on three
/// nodes, and exits; with nothing it does nothing, as the generated one did. <see cref="SubsystemDirectorySpecs"/> runs it
/// in two processes: the replicator compares these digests between nodes, and every process hashes strings with its own
/// random seed, so only a form that does not follow hash order gives both processes one digest.
/// </summary>
public static class DirectoryDigestProgram
{
    /// <summary>The argument that prints the digest.</summary>
    public const string Command = "directory-digest";

    /// <summary>Runs the command named in <paramref name="args"/>, if any.</summary>
    public static int Main(string[] args)
    {
        if (args is not [Command]) return 0;
        var config = ConfigurationFactory.ParseString("""
            akka.actor.provider = cluster
            akka.remote.dot-netty.tcp.port = 0
            akka.remote.dot-netty.tcp.hostname = 127.0.0.1
            akka.loglevel = ERROR
            akka.stdout-loglevel = ERROR
            """).WithFallback(DistributedData.DefaultConfig());
        using var system = ActorSystem.Create("digest", config);
        var directory = Placements();
        var bytes = system.Serialization.FindSerializerFor(directory).ToBinary(directory);
        Console.WriteLine($"{Convert.ToHexString(SHA1.HashData(bytes))} {bytes.Length} {directory.Elements.Count}");
        system.Terminate().Wait(TimeSpan.FromSeconds(10));
        return 0;
    }

    /// <summary>300 subsystems placed by three nodes, a tenth of them moved to another host afterwards.</summary>
    public static ORSet<string> Placements()
    {
        var nodes = Enumerable.Range(1, 3).Select(i => new UniqueAddress(new Address("akka.tcp", "scarcity", "10.0.0." + i, 4053), i)).ToArray();
        var directory = ORSet<string>.Empty;
        for (var i = 0; i < 300; i++)
            directory = SubsystemDirectory.Placed(directory, nodes[i % 3], $"engine-{i:D3}", $"gpu-node-{i % 3 + 1}-sim-{i:D3}");
        for (var i = 0; i < 300; i += 10)
            directory = SubsystemDirectory.Placed(directory, nodes[(i + 1) % 3], $"engine-{i:D3}", $"gpu-node-{(i + 1) % 3 + 1}-sim-{i:D3}");
        return directory;
    }
}
