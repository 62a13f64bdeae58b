using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.TestKit;
using Scarcity.Actors.Actuation;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.Tests.Actuation;

/// <summary>
/// One <see cref="ActuatorActor"/> while the node adopts new policy versions (<see cref="NodePolicy"/>, what the node's
/// policy holder does when the store publishes one): levels carry over, a removed rule releases its action, dry-run
/// decisions are published and journaled as dry and never reach the subsystem.
/// </summary>
public sealed class ActuatorVersionSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private const string Subsystem = "engine";
    private const string Host = "gpu-01";
    private static readonly PolicyRule Vram = new(MetricNames.VramUtil, 0.85, ActionNames.ReduceBatch, 0.5) { Signal = SignalKind.Raw };
    private static readonly PolicyRule Cpu = new(MetricNames.CpuUtil, 0.90, ActionNames.Throttle, 0.7) { Signal = SignalKind.Raw };

    private readonly TestProbe _profilers;

    public ActuatorVersionSpecs(ITestOutputHelper output) : base(ActorSpecConfig.LocalNode, "actuator-version-specs", output)
    {
        _profilers = CreateTestProbe("profilers");
    }

    private static PolicyConfig Policy(params PolicyRule[] rules) => new()
    {
        Policies = { ["*"] = [.. rules] },
        Cooldown = TimeSpan.FromSeconds(1),
        RecoveryDelay = TimeSpan.FromMinutes(10),
        IneffectiveAfterCuts = 0,
        LatencyAdmission = false,
        LearnBatchResponse = false,
    };

    private int _started;

    // Every start gets its own actor name (the guardian frees a stopped child's name only when it handles the termination);
    // recovery goes by the persistence id, the subsystem's.
    private IActorRef Actuator(PolicyConfig file, int snapshotEvery = 100) => Sys.ActorOf(ActuatorActor.Props(Subsystem, file,
        new ActuatorConfig { AckTimeout = TimeSpan.FromSeconds(30), MaxBackoff = TimeSpan.FromSeconds(30), SnapshotEvery = snapshotEvery }, _profilers.Ref),
        $"actuator-{Subsystem}-{++_started}");

    private static EvaluateProfile Profile(double vram, double cpu, double seconds) => new(Subsystem, new HostProfile(Host, T0.AddSeconds(seconds),
        PressureLevel.Red, new Dictionary<string, double> { [MetricNames.VramUtil] = vram, [MetricNames.CpuUtil] = cpu }
            .ToImmutableDictionary(kv => kv.Key, kv => new MetricEstimate(kv.Value, kv.Value, kv.Value, 0, kv.Value, 0, T0.AddSeconds(seconds), false))));

    private TestProbe Registered(IActorRef actuator)
    {
        var holder = CreateTestProbe();
        actuator.Tell(new RegisterSubsystem(Subsystem, Host, 5, [ActionNames.ReduceBatch, ActionNames.Throttle, ActionNames.ShedLoad], holder.Ref), holder.Ref);
        holder.ExpectMsg<SubsystemRegistered>(Wait);
        return holder;
    }

    private static Task<SubsystemStatus> Status(IActorRef actuator) => actuator.Ask<SubsystemStatus>(new GetSubsystemStatus(Subsystem), Wait);

    private TestProbe Signals(string action)
    {
        var signals = CreateTestProbe();
        DistributedPubSub.Get(Sys).Mediator.Tell(new Subscribe(Topics.Signal(action), signals.Ref), signals.Ref);
        signals.ExpectMsg<SubscribeAck>(Wait);
        return signals;
    }

    [Fact]
    public async Task A_new_version_keeps_the_levels_and_a_rule_it_removes_releases_its_action_to_1_at_once()
    {
        // Arrange: both rules cut once under version 0 (the file's policy).
        var actuator = Actuator(Policy(Vram, Cpu));
        var holder = Registered(actuator);
        actuator.Tell(Profile(0.95, 0.95, 0));
        var cuts = new[] { holder.ExpectMsg<Throttle>(Wait), holder.ExpectMsg<Throttle>(Wait) }.ToDictionary(t => t.Action);
        Assert.Equal(0.5, cuts[ActionNames.ReduceBatch].Level);
        Assert.Equal(0.7, cuts[ActionNames.Throttle].Level);

        // Act: version 2 keeps a (changed) VRAM rule and drops the CPU one.
        NodePolicy.Get(Sys).Adopt(Sys, new ActivePolicy(2, Policy(Vram with { Threshold = 0.9 })));

        // Assert: throttle is released at once, with the version as reason; reduce_batch keeps its level and cuts on from it.
        var release = holder.ExpectMsg<Throttle>(Wait);
        Assert.Equal((ActionNames.Throttle, 1.0, 3L), (release.Action, release.Level, release.Sequence));
        Assert.Contains("policy v2", release.Reason.Rule);
        await AwaitAssertAsync(async () =>
        {
            var status = await Status(actuator);
            Assert.Equal(2, status.PolicyVersion);
            Assert.Equal(0.5, status.Levels[ActionNames.ReduceBatch]);
            Assert.Equal(1.0, status.Levels[ActionNames.Throttle]);
        }, Wait);
        actuator.Tell(Profile(0.95, 0.95, 2));
        var next = holder.ExpectMsg<Throttle>(Wait);
        Assert.Equal((ActionNames.ReduceBatch, 0.25), (next.Action, next.Level));
        Assert.Contains("> 0.9", next.Reason.Rule);
        holder.ExpectNoMsg(TimeSpan.FromMilliseconds(500)); // nothing on throttle: its rule is gone
    }

    [Fact]
    public async Task After_a_new_version_a_lower_priority_peer_on_the_host_still_holds_the_cut()
    {
        // Priorities (on by default) survive the policy's rebuild: a peer that can still cut holds this subsystem's cut.
        var actuator = Actuator(Policy(Vram));
        var holder = Registered(actuator);
        NodePolicy.Get(Sys).Adopt(Sys, new ActivePolicy(2, Policy(Vram with { Threshold = 0.9 })));
        await AwaitAssertAsync(async () => Assert.Equal(2, (await Status(actuator)).PolicyVersion), Wait);

        actuator.Tell(new HostPeers(Subsystem, Host, [new SubsystemPeerState(Host, "trainer", null, 1, true,
            [new PeerAction(ActionNames.ReduceBatch, 1, true, false, null, null, null)], T0)]));
        actuator.Tell(Profile(0.95, 0.5, 0));

        await AwaitAssertAsync(async () => Assert.Contains((await Status(actuator)).Skipped, s => s.Contains("trainer", StringComparison.Ordinal)), Wait);
        holder.ExpectNoMsg(TimeSpan.FromMilliseconds(500));
        Assert.Equal(1.0, (await Status(actuator)).Levels[ActionNames.ReduceBatch]);
    }

    [Theory]
    [InlineData(100)] // the dry levels replayed from the dry decisions in the journal
    [InlineData(1)]   // from a snapshot
    public async Task A_dry_run_rule_is_published_and_journaled_as_dry_and_never_sent_and_the_live_level_does_not_move(int snapshotEvery)
    {
        var actuator = Actuator(Policy(Vram), snapshotEvery);
        var holder = Registered(actuator);
        var signals = Signals(ActionNames.Throttle);
        NodePolicy.Get(Sys).Adopt(Sys, new ActivePolicy(2, Policy(Vram, Cpu with { DryRun = true })));
        await AwaitAssertAsync(async () => Assert.Equal(2, (await Status(actuator)).PolicyVersion), Wait);

        actuator.Tell(Profile(0.5, 0.95, 0));
        actuator.Tell(Profile(0.5, 0.95, 2));

        // Published on drg.signal.throttle as dry, twice (its dry level evolves by its own logic: 0.7, then 0.49).
        var first = signals.ExpectMsg<Decision>(Wait);
        var second = signals.ExpectMsg<Decision>(Wait);
        Assert.All([first, second], d => Assert.True(d.Dry && !d.Sent && d.Sequence == 0, d.ToString()));
        Assert.Equal([0.7, 0.49], new[] { first.Level, second.Level }.Select(l => Math.Round(l, 9)));
        Assert.Contains("dry-run (policy v2)", first.Detail);
        holder.ExpectNoMsg(TimeSpan.FromSeconds(1)); // no Throttle reaches the subsystem
        var status = await Status(actuator);
        Assert.Equal(1.0, status.Levels[ActionNames.Throttle]);
        Assert.Equal(0.49, status.DryLevels![ActionNames.Throttle], 9);
        Assert.Equal(2, status.DryPolicyVersion);

        // Journaled as dry: a restarted actuator recovers the dry level apart, and the live one untouched (once written:
        // on a loaded machine the journal writer may still hold the last decision).
        await AwaitAssertAsync(async () => Assert.Equal(0, (await Status(actuator)).Unjournaled), Wait);
        Watch(actuator);
        Sys.Stop(actuator);
        ExpectTerminated(actuator, Wait);
        var recovered = await Status(Actuator(Policy(Vram), snapshotEvery));
        Assert.Equal(0.49, recovered.DryLevels![ActionNames.Throttle], 9);
        Assert.Equal(0, recovered.LastSequence);
        Assert.False(recovered.Levels.TryGetValue(ActionNames.Throttle, out var live) && live < 1);
    }

    [Fact]
    public async Task A_dry_run_candidate_version_decides_beside_the_live_version_which_alone_sends()
    {
        var actuator = Actuator(Policy(Vram));
        var holder = Registered(actuator);
        var signals = Signals(ActionNames.ReduceBatch);
        var candidate = Policy(Vram with { Threshold = 0.6 });
        candidate.DryRun = true;
        NodePolicy.Get(Sys).Adopt(Sys, new ActivePolicy(1, Policy(Vram), 2, candidate));
        await AwaitAssertAsync(async () => Assert.Equal(2, (await Status(actuator)).DryPolicyVersion), Wait);

        actuator.Tell(Profile(0.7, 0.1, 0)); // over the candidate's threshold only

        var dry = signals.ExpectMsg<Decision>(Wait);
        Assert.True(dry.Dry);
        Assert.Equal(0.5, dry.Level);
        holder.ExpectNoMsg(TimeSpan.FromSeconds(1));

        actuator.Tell(Profile(0.95, 0.1, 2)); // over both: the live one sends, the candidate cuts its own level further
        var sent = holder.ExpectMsg<Throttle>(Wait);
        Assert.Equal((ActionNames.ReduceBatch, 0.5, 1L), (sent.Action, sent.Level, sent.Sequence));
        var both = new[] { signals.ExpectMsg<Decision>(Wait), signals.ExpectMsg<Decision>(Wait) };
        Assert.Equal(0.25, Assert.Single(both, d => d.Dry).Level);
        Assert.Equal(0.5, Assert.Single(both, d => !d.Dry).Level);
    }
}
