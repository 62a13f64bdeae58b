using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Scarcity.Actors.Sharding;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.Tests.Sharding;

/// <summary>
/// The node's directory writer: every placement its actuators record reaches the directory (a burst of them in few
/// writes), a move replaces the old host, and a placement recorded again is still there.
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
}
