using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Scarcity.Actors.Sharding;
using Xunit;

namespace Scarcity.Actors.Tests.Sharding;

/// <summary>
/// The subsystem directory's placements (a replicated set of <c>subsystem|host</c>): one host per subsystem after a
/// placement, concurrent placements on two nodes resolved alike on every node, and a repeat that writes nothing (the
/// replicator gossips a key only while its value differs between nodes).
/// </summary>
public sealed class SubsystemDirectorySpecs
{
    private static readonly UniqueAddress Node1 = new(new Address("akka.tcp", "scarcity", "10.0.0.1", 4053), 1);
    private static readonly UniqueAddress Node2 = new(new Address("akka.tcp", "scarcity", "10.0.0.2", 4053), 2);

    [Fact]
    public void A_placement_puts_a_subsystem_on_one_host_and_a_move_replaces_the_old_host()
    {
        var placements = SubsystemDirectory.Placed(ORSet<string>.Empty, Node1, "engine", "gpu|07");
        placements = SubsystemDirectory.Placed(placements, Node1, "engine.b", "gpu-08");
        Assert.Equal("gpu|07", SubsystemDirectory.HostsOf(placements)["engine"]); // a host name may hold the separator

        var moved = SubsystemDirectory.Placed(placements, Node2, "engine", "gpu-09");

        Assert.Equal(["engine.b|gpu-08", "engine|gpu-09"], moved.Elements.Order(StringComparer.Ordinal));
        Assert.Equal("gpu-09", SubsystemDirectory.HostsOf(moved)["engine"]);
        Assert.Equal("gpu-08", SubsystemDirectory.HostsOf(moved)["engine.b"]); // "engine" is not a prefix of "engine.b|"
    }

    [Fact]
    public void Placing_a_subsystem_where_it_already_is_changes_nothing()
    {
        var placements = SubsystemDirectory.Placed(ORSet<string>.Empty, Node1, "engine", "gpu-07");

        Assert.Same(placements, SubsystemDirectory.Placed(placements, Node2, "engine", "gpu-07"));
    }

    [Fact]
    public void Two_nodes_placing_one_subsystem_at_once_agree_on_a_host_after_the_merge_and_the_next_placement_settles_it()
    {
        var before = SubsystemDirectory.Placed(ORSet<string>.Empty, Node1, "engine", "gpu-07");
        var onNode1 = SubsystemDirectory.Placed(before, Node1, "engine", "gpu-09");
        var onNode2 = SubsystemDirectory.Placed(before, Node2, "engine", "gpu-08");

        var merged1 = onNode1.Merge(onNode2);
        var merged2 = onNode2.Merge(onNode1);

        Assert.Equal(merged1.Elements.Order(StringComparer.Ordinal), merged2.Elements.Order(StringComparer.Ordinal));
        Assert.Equal(["engine|gpu-08", "engine|gpu-09"], merged1.Elements.Order(StringComparer.Ordinal)); // the old host is gone
        Assert.Equal("gpu-08", SubsystemDirectory.HostsOf(merged1)["engine"]);
        Assert.Equal(SubsystemDirectory.HostsOf(merged1), SubsystemDirectory.HostsOf(merged2));

        var settled = SubsystemDirectory.Placed(merged1, Node1, "engine", "gpu-09");
        Assert.Equal(["engine|gpu-09"], settled.Elements);
    }

    [Fact]
    public async Task Two_processes_serialize_the_same_directory_to_the_same_bytes_so_the_replicator_stops_gossiping_it()
    {
        // The replicator sends a key's whole value to a node whose digest (SHA-1 of the serialized value) differs. Each
        // process seeds its string hashes at random, so a form in hash order (Akka.NET's LWWDictionary: three processes,
        // three digests) would be gossiped in full every round, forever.
        var first = await DigestInAnotherProcess();
        var second = await DigestInAnotherProcess();

        Assert.Equal(first, second);
        Assert.EndsWith(" 300", first, StringComparison.Ordinal); // one placement per subsystem after the moves
    }

    private static async Task<string> DigestInAnotherProcess()
    {
        var assembly = typeof(DirectoryDigestProgram).Assembly.Location;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { assembly, DirectoryDigestProgram.Command }) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {await errors}");
        return (await output).Trim();
    }

    [Fact]
    public void A_batch_of_placements_places_each_subsystem_on_its_host_only_and_a_batch_already_held_changes_nothing()
    {
        var placements = SubsystemDirectory.Placed(ORSet<string>.Empty, Node1, "engine", "gpu-07");
        placements = SubsystemDirectory.Placed(placements, Node1, "engine.b", "gpu-08");

        var batch = new Dictionary<string, string> { ["engine"] = "gpu-09", ["engine.b"] = "gpu-08", ["new"] = "gpu|10" };
        var placed = SubsystemDirectory.Placed(placements, Node2, batch);

        Assert.Equal(["engine.b|gpu-08", "engine|gpu-09", "new|gpu|10"], placed.Elements.Order(StringComparer.Ordinal));
        Assert.Same(placed, SubsystemDirectory.Placed(placed, Node1, batch));
    }

    [Fact]
    public void An_element_that_is_not_a_placement_is_skipped()
    {
        var placements = ORSet<string>.Empty.Add(Node1, "no-separator").Add(Node1, "|host-without-subsystem");

        Assert.Equal(["engine"], SubsystemDirectory.HostsOf(SubsystemDirectory.Placed(placements, Node1, "engine", "gpu-07")).Keys);
    }
}
