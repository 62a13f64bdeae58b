using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Scarcity.Actors.Sharding;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.Tests.Sharding;

/// <summary>
/// The node's directory writer: every placement its actuators record reaches the directory, a move replaces the old
/// host, and a placement recorded again where the directory has come to say otherwise (another node's write, a merge of
/// two) is written again, not skipped as known.
/// </summary>
public sealed class SubsystemDirectoryWriterSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    public SubsystemDirectoryWriterSpecs(ITestOutputHelper output) : base(ActorSpecConfig.LocalNode, output: output)
    {
        var cluster = Akka.Cluster.Cluster.Get(Sys);
        cluster.Join(cluster.SelfAddress);
        AwaitCondition(() => cluster.SelfMember.Status == MemberStatus.Up, Wait);
    }

    private async Task<IReadOnlyDictionary<string, string>> Directory()
    {
        var response = await DistributedData.Get(Sys).Replicator.Ask<IGetResponse>(Dsl.Get(SubsystemDirectory.Key, ReadLocal.Instance), Wait);
        return response.IsSuccessful ? SubsystemDirectory.HostsOf(response.Get(SubsystemDirectory.Key)) : new Dictionary<string, string>();
    }

    [Fact]
    public async Task A_burst_of_placements_all_reach_the_directory_and_a_move_replaces_the_old_host()
    {
        for (var i = 0; i < 300; i++) SubsystemDirectory.Record(Sys, $"engine-{i:D3}", $"gpu-{i % 7}");
        SubsystemDirectory.Record(Sys, "engine-000", "gpu-0"); // recorded again: still one placement

        await AwaitAssertAsync(async () =>
        {
            var hosts = await Directory();
            Assert.Equal(300, hosts.Count);
            Assert.All(hosts, h => Assert.Equal($"gpu-{int.Parse(h.Key[7..]) % 7}", h.Value));
        }, Wait);

        SubsystemDirectory.Record(Sys, "engine-001", "gpu-moved");
        SubsystemDirectory.Record(Sys, "engine-002", "gpu-2"); // unchanged, skipped

        await AwaitAssertAsync(async () =>
        {
            var hosts = await Directory();
            Assert.Equal("gpu-moved", hosts["engine-001"]);
            Assert.Equal("gpu-2", hosts["engine-002"]);
            Assert.Equal(300, hosts.Count);
        }, Wait);
        var response = await DistributedData.Get(Sys).Replicator.Ask<IGetResponse>(Dsl.Get(SubsystemDirectory.Key, ReadLocal.Instance), Wait);
        Assert.Equal(300, response.Get(SubsystemDirectory.Key).Count); // the old host of the move is gone
    }

    private static readonly UniqueAddress Node2 = new(new Address("akka.tcp", "scarcity", "10.0.0.2", 4053), 2);
    private static readonly UniqueAddress Node3 = new(new Address("akka.tcp", "scarcity", "10.0.0.3", 4053), 3);

    private Task<IUpdateResponse> WriteDirectly(Func<ORSet<string>, ORSet<string>> modify) =>
        DistributedData.Get(Sys).Replicator.Ask<IUpdateResponse>(Dsl.Update(SubsystemDirectory.Key, ORSet<string>.Empty, WriteLocal.Instance, modify), Wait);

    private async Task<string[]> PlacementsOf(string subsystem)
    {
        var response = await DistributedData.Get(Sys).Replicator.Ask<IGetResponse>(Dsl.Get(SubsystemDirectory.Key, ReadLocal.Instance), Wait);
        return response.IsSuccessful
            ? [.. response.Get(SubsystemDirectory.Key).Elements.Where(e => e.StartsWith(subsystem + "|", StringComparison.Ordinal)).Order(StringComparer.Ordinal)]
            : [];
    }

    [Fact]
    public async Task A_placement_recorded_again_after_another_node_moved_it_is_written_again()
    {
        SubsystemDirectory.Record(Sys, "engine", "gpu-a");
        await AwaitAssertAsync(async () => Assert.Equal(["engine|gpu-a"], await PlacementsOf("engine")), Wait);

        Assert.True((await WriteDirectly(set => SubsystemDirectory.Placed(set, Node2, "engine", "gpu-b"))).IsSuccessful);
        Assert.Equal(["engine|gpu-b"], await PlacementsOf("engine"));

        // Once the writer has seen the change, the same placement as before is not "already held".
        await AwaitAssertAsync(async () =>
        {
            SubsystemDirectory.Record(Sys, "engine", "gpu-a");
            Assert.Equal(["engine|gpu-a"], await PlacementsOf("engine"));
        }, Wait);
    }

    [Fact]
    public async Task A_subsystem_the_directory_places_on_two_hosts_after_a_merge_is_settled_by_its_next_placement()
    {
        Assert.True((await WriteDirectly(set =>
        {
            var before = SubsystemDirectory.Placed(set, Node2, "engine", "gpu-a");
            return SubsystemDirectory.Placed(before, Node2, "engine", "gpu-b").Merge(SubsystemDirectory.Placed(before, Node3, "engine", "gpu-c"));
        })).IsSuccessful);
        Assert.Equal(["engine|gpu-b", "engine|gpu-c"], await PlacementsOf("engine"));

        await AwaitAssertAsync(async () =>
        {
            SubsystemDirectory.Record(Sys, "engine", "gpu-b");
            Assert.Equal(["engine|gpu-b"], await PlacementsOf("engine"));
        }, Wait);
    }
}
