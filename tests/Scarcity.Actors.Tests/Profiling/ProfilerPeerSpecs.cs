using Akka.Actor;
using Akka.Cluster;
using Akka.TestKit;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Profiling;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.Tests.Profiling;

/// <summary>
/// The profiler entity relays its subsystems' states to one another for priorities (serialised on every send): each gets
/// the others' newest, never its own, nothing while a subsystem is alone, and a subsystem that leaves is dropped.
/// </summary>
public sealed class ProfilerPeerSpecs : Akka.TestKit.Xunit2.TestKit
{
    private const string Host = "gpu-peer-spec";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly TestProbe _actuators;

    public ProfilerPeerSpecs(ITestOutputHelper output) : base(ActorSpecConfig.LocalNodeVerifyingSerialization, output: output)
    {
        var cluster = Akka.Cluster.Cluster.Get(Sys);
        cluster.Join(cluster.SelfAddress);
        AwaitCondition(() => cluster.SelfMember.Status == MemberStatus.Up, TimeSpan.FromSeconds(20));
        _actuators = CreateTestProbe();
    }

    private static SubsystemPeerState State(string subsystem, int priority, double level) =>
        new(Host, subsystem, "gpu=0", priority, true, [new PeerAction("reduce_batch", level, level > 0.1, true, T0, T0, null)]);

    [Fact]
    public void Each_subsystem_gets_the_others_newest_states_and_one_that_leaves_is_dropped()
    {
        var profiler = Sys.ActorOf(ProfilerActor.Props(Host, new ProfilerConfig(), TimeSpan.FromSeconds(10), _actuators.Ref, ActorRefs.Nobody));
        profiler.Tell(new AttachSubsystem(Host, "trainer"));
        profiler.Tell(new AttachSubsystem(Host, "inference"));

        profiler.Tell(State("trainer", 1, 1));
        _actuators.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // alone so far: nothing to arbitrate

        profiler.Tell(State("inference", 9, 1));
        var first = _actuators.ReceiveN(2, Wait).Cast<HostPeers>().ToDictionary(p => p.Subsystem);
        Assert.Equal(["inference"], first["trainer"].Peers.Select(p => p.Subsystem));
        Assert.Equal(["trainer"], first["inference"].Peers.Select(p => p.Subsystem));

        profiler.Tell(State("trainer", 1, 0.5));
        var second = _actuators.ReceiveN(2, Wait).Cast<HostPeers>().ToDictionary(p => p.Subsystem);
        Assert.Equal(0.5, Assert.Single(second["inference"].Peers).Actions[0].Level);
        Assert.Equal(State("inference", 9, 1).Actions.Single(), Assert.Single(second["trainer"].Peers).Actions.Single());

        profiler.Tell(new DetachSubsystem(Host, "trainer"));
        var left = _actuators.ExpectMsg<HostPeers>(Wait);
        Assert.Equal("inference", left.Subsystem);
        Assert.Empty(left.Peers);
        _actuators.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }
}
