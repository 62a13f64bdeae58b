using System.Collections.Immutable;
using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Configuration;
using Akka.TestKit;
using Scarcity.Actors.Actuation;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Metrics;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Profiling;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.Tests.Actuation;

/// <summary>
/// One <see cref="ActuatorActor"/> created directly, with a probe as the profiler region and the in-memory journal:
/// what only the actor does (replies, timers, DeathWatch, persistence and recovery). The delivery and arbitration rules
/// themselves have specs of their own in the core (ThrottleDeliverySpecs, RegistrationArbitrationSpecs).
/// </summary>
public sealed class ActuatorActorSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private const string Subsystem = "engine";
    private const string Host = "gpu-01";

    private static readonly Config Hocon = ActorSpecConfig.LocalNode; // never joins a cluster: publishing stays local

    private readonly TestProbe _profilers;

    public ActuatorActorSpecs(ITestOutputHelper output) : base(Hocon, "actuator-specs", output)
    {
        _profilers = CreateTestProbe("profilers");
        // What an actuator tells its host's profiler for priorities across subsystems: PriorityPipelineSpecs.
        _profilers.IgnoreMessages<SubsystemPeerState>();
    }

    private static PolicyConfig Policy() => new()
    {
        Policies = { ["*"] = [new PolicyRule(MetricNames.VramUtil, 0.85, ActionNames.ReduceBatch, 0.5) { Signal = SignalKind.Raw }] },
        Cooldown = TimeSpan.FromSeconds(1),
        RecoveryDelay = TimeSpan.FromMinutes(10),
    };

    // Never retries within a spec unless the spec asks for it.
    // The Throttle leaves before its journal write (PersistBeforeSend off here) and a stop drops what the writer still
    // holds: a spec that restarts the actuator waits until every decision is written.
    private async Task AwaitJournaled(IActorRef actuator) =>
        await AwaitAssertAsync(async () => Assert.Equal(0, (await actuator.Ask<SubsystemStatus>(new GetSubsystemStatus(Subsystem), Wait)).Unjournaled), Wait);

    private static ActuatorConfig Patient() => new() { AckTimeout = TimeSpan.FromSeconds(30), MaxBackoff = TimeSpan.FromSeconds(30) };

    // Retries within a spec: the first after 300 ms, at most every 2 s.
    private static ActuatorConfig Eager() => new() { AckTimeout = TimeSpan.FromMilliseconds(300), MaxBackoff = TimeSpan.FromSeconds(2) };

    private int _started;

    // A new name for every start: the guardian frees a stopped child's name only after the watcher's Terminated may have
    // arrived, so reusing it at once can fail with "not unique". The persistence id is the subsystem's either way.
    private IActorRef Actuator(ActuatorConfig? config = null) =>
        Sys.ActorOf(ActuatorActor.Props(Subsystem, Policy(), config ?? Patient(), _profilers.Ref), $"actuator-{Subsystem}-{++_started}");

    private static RegisterSubsystem Registration(IActorRef holder) =>
        new(Subsystem, Host, 5, [ActionNames.ReduceBatch, ActionNames.Throttle, ActionNames.ShedLoad], holder);

    private static HostProfile Profile(double vram, double seconds) => new(Host, T0.AddSeconds(seconds), PressureLevel.Red,
        ImmutableDictionary<string, MetricEstimate>.Empty.Add(MetricNames.VramUtil,
            new MetricEstimate(vram, vram, vram, 0, vram, 0, T0.AddSeconds(seconds), false)));

    private static EvaluateProfile Hot(double seconds) => new(Subsystem, Profile(0.95, seconds));

    private SubsystemRegistered Register(IActorRef actuator, TestProbe holder)
    {
        actuator.Tell(Registration(holder.Ref), holder.Ref);
        return holder.ExpectMsg<SubsystemRegistered>(Wait);
    }

    private static Task<SubsystemStatus> Status(IActorRef actuator) => actuator.Ask<SubsystemStatus>(new GetSubsystemStatus(Subsystem), Wait);

    private static ThrottleAck Ack(Throttle throttle) => new(Subsystem, throttle.Sequence, true, "applied");

    [Fact]
    public void A_registration_gets_every_declared_action_at_level_1_and_the_hosts_profiler_learns_the_holder()
    {
        var actuator = Actuator();
        var holder = CreateTestProbe("holder");

        var registered = Register(actuator, holder);

        Assert.Equal(Subsystem, registered.Name);
        Assert.Equal(0, registered.LastSequence);
        Assert.Equal(
            [(ActionNames.ReduceBatch, 1.0), (ActionNames.ShedLoad, 1.0), (ActionNames.Throttle, 1.0)],
            registered.Levels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => (l.Key, l.Value)));
        var attach = _profilers.ExpectMsg<AttachSubsystem>(Wait);
        Assert.Equal((Host, Subsystem), (attach.Host, attach.Subsystem));
        Assert.Equal(ProfilerActor.HolderPathOf(holder.Ref, Sys), attach.Holder);
        Assert.StartsWith("akka.tcp://actuator-specs@127.0.0.1:", attach.Holder); // the node's address, as seen from any node
    }

    [Fact]
    public void A_first_registration_that_says_it_reports_context_k_gets_the_prior_reduce_batch_level()
    {
        // (One that says nothing of what it reports gets 1: the spec above.)
        var actuator = Actuator();
        var holder = CreateTestProbe("holder");

        actuator.Tell(Registration(holder.Ref) with { Reports = [MetricNames.LatencyMs, MetricNames.QueueDepth, MetricNames.ContextK] }, holder.Ref);
        var registered = holder.ExpectMsg<SubsystemRegistered>(Wait);

        Assert.Equal(new PolicyConfig().LearnedInitialLevel, registered.Levels[ActionNames.ReduceBatch]);
        Assert.Equal(0.5, registered.Levels[ActionNames.ReduceBatch]);
        Assert.Equal(1.0, registered.Levels[ActionNames.Throttle]);
    }

    [Fact]
    public void A_profile_over_a_rules_threshold_sends_the_holder_Throttles_with_increasing_sequence()
    {
        var actuator = Actuator();
        var holder = CreateTestProbe("holder");
        Register(actuator, holder);

        actuator.Tell(Hot(0));
        var first = holder.ExpectMsg<Throttle>(Wait);
        holder.Reply(Ack(first));
        actuator.Tell(Profile(0.95, 2)); // a HostProfile is evaluated as well; 2 s is past the cooldown
        var second = holder.ExpectMsg<Throttle>(Wait);

        Assert.Equal((ActionNames.ReduceBatch, 0.5, 1L, Host, T0), (first.Action, first.Level, first.Sequence, first.Host, first.IssuedAt));
        Assert.Equal((0.25, 2L), (second.Level, second.Sequence));
        Assert.Equal(actuator, holder.LastSender); // acks go straight back to the actuator
        Assert.Contains("vram_util", first.Reason.Rule);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_decision_and_the_statuses_at_the_decision_and_its_ack_reach_every_fleet_view_through_the_subsystem_digest(bool nodeDigest)
    {
        var digests = CreateTestProbe();
        DistributedPubSub.Get(Sys).Mediator.Tell(new Subscribe(Topics.SubsystemDigest, digests.Ref), digests.Ref);
        digests.ExpectMsg<SubscribeAck>(Wait);
        // The node's digest as the host region gives it to its actuators, or none: then each event leaves in a digest of its own.
        var events = nodeDigest ? Sys.ActorOf(Scarcity.Actors.Monitoring.TelemetryDigestActor.Props(TimeSpan.FromSeconds(1)), $"digest-{++_started}") : null;
        var actuator = Sys.ActorOf(ActuatorActor.Props(Subsystem, Policy(), Patient(), _profilers.Ref, events: events), $"actuator-{Subsystem}-{++_started}");
        var holder = CreateTestProbe("holder");
        Register(actuator, holder);
        digests.FishForMessage<SubsystemDigest>(d => d.Statuses.Any(s => s.Name == Subsystem), Wait); // the registration's status

        actuator.Tell(Hot(0));
        holder.Reply(Ack(holder.ExpectMsg<Throttle>(Wait)));

        var statuses = new List<SubsystemStatus>();
        var decisions = new List<Decision>();
        while (!statuses.Any(s => s.LastAckedSequence == 1))
        {
            var digest = digests.ExpectMsg<SubsystemDigest>(Wait);
            statuses.AddRange(digest.Statuses);
            decisions.AddRange(digest.Decisions);
        }
        var decision = Assert.Single(decisions);
        Assert.Equal((ActionNames.ReduceBatch, 0.5, 1L), (decision.Action, decision.Level, decision.Sequence));
        Assert.All(statuses, s => Assert.Equal((Subsystem, 0.5), (s.Name, s.Levels[ActionNames.ReduceBatch])));
        // Through the node's digest the status at the decision is replaced by the one at the ack when both fall in one linger.
        if (!nodeDigest) Assert.Equal([0L, 1L], statuses.Select(s => s.LastAckedSequence));
    }

    [Fact]
    public async Task An_unacknowledged_Throttle_is_resent_with_growing_waits_and_the_subsystem_turns_silent_until_it_acks()
    {
        var actuator = Actuator(new ActuatorConfig
        {
            AckTimeout = TimeSpan.FromMilliseconds(300), MaxBackoff = TimeSpan.FromSeconds(10), SilentAfterAttempts = 3,
        });
        var holder = CreateTestProbe("holder");
        Register(actuator, holder);

        actuator.Tell(Hot(0));
        var clock = Stopwatch.StartNew();
        var arrivals = new List<(TimeSpan At, Throttle Throttle)>();
        for (var i = 0; i < 4; i++)
        {
            var throttle = holder.ExpectMsg<Throttle>(Wait);
            arrivals.Add((clock.Elapsed, throttle));
        }

        Assert.All(arrivals, a => Assert.Equal(arrivals[0].Throttle, a.Throttle));
        var gaps = arrivals.Zip(arrivals.Skip(1), (a, b) => (b.At - a.At).TotalMilliseconds).ToList();
        // waits of 300, 600 and 1200 ms; a busy machine only makes them longer
        Assert.True(gaps[0] >= 200 && gaps[1] >= 500 && gaps[2] >= 1000, $"gaps {string.Join(", ", gaps.Select(g => $"{g:0} ms"))}");
        Assert.False((await Status(actuator)).Reachable); // three attempts unanswered: silent

        holder.Reply(Ack(arrivals[0].Throttle));

        await AwaitAssertAsync(async () => Assert.True((await Status(actuator)).Reachable), Wait);
        holder.ExpectNoMsg(TimeSpan.FromSeconds(3)); // the next attempt was due 2.4 s after the last
    }

    [Fact]
    public async Task The_node_metrics_count_decisions_Throttles_sent_superseded_and_acked_and_time_the_journal_writes()
    {
        var metrics = GovernorMetrics.Get(Sys);
        var actuator = Actuator();
        var holder = CreateTestProbe("holder");
        Register(actuator, holder);

        actuator.Tell(Hot(0));
        var first = holder.ExpectMsg<Throttle>(Wait); // never acked
        actuator.Tell(Hot(2));                          // past the cooldown: a newer level of the same action
        var second = holder.ExpectMsg<Throttle>(Wait);
        holder.Reply(Ack(second));
        await Status(actuator); // the ack is handled before the status answers

        var rule = first.Reason.Rule;
        Assert.Equal(2, metrics.Decisions.WithLabels(Subsystem, ActionNames.ReduceBatch, rule, "escalation").Value);
        Assert.Equal(2, metrics.ThrottlesSent.WithLabels(Subsystem, ActionNames.ReduceBatch).Value);
        Assert.Equal(1, metrics.ThrottlesSuperseded.WithLabels(Subsystem, ActionNames.ReduceBatch).Value); // seq 1 replaced by seq 2
        Assert.Equal(1, metrics.ThrottlesAcked.WithLabels(Subsystem, "true").Value);
        Assert.Equal(0, metrics.ThrottlesRetried.WithLabels(Subsystem, ActionNames.ReduceBatch).Value);
        Assert.Equal(2, metrics.SampleToThrottle.WithLabels(Subsystem).Count);
        // The registration and the two decisions, each write timed once; the in-memory journal never fails.
        await AwaitAssertAsync(() => Assert.Equal(3, metrics.JournalWrite.WithLabels("actuator").Count), Wait);
        Assert.Equal(0, metrics.JournalFailures.WithLabels("actuator").Value);
    }

    [Theory]
    [InlineData(SubsystemPolicy.LoadSignal, "load needs level 0.788 (probed down while idle; Little's law at the last queue: service 12.42/s, admitted 13/s)")]
    [InlineData(SubsystemPolicy.HeadroomSignal, "headroom for a step: vram_util 0.955 growing with level x context_k predicts 1.134 at context_k 2.97 (now 2.5 + planned rise 0.63) > 0.95 - margin 0.02: level 0.479")]
    public void A_learned_batch_decision_whose_reason_carries_figures_counts_under_its_signal_not_its_text(string signal, string text)
    {
        // Its text changes with every decision: as a label it would add a series per decision.
        var metrics = GovernorMetrics.Get(Sys);
        var decision = new Decision("metrics-engine", "h1", ActionNames.ReduceBatch, 0.6, 0.5, 1,
            new ThrottleReason(text, "context_k", signal, 2.5, 2.5, 0.93), DateTimeOffset.UtcNow, ImmutableDictionary<string, double>.Empty, Sent: false, Detail: "");

        metrics.RecordDecision(decision, superseded: false, DateTimeOffset.UtcNow);

        Assert.Equal(1, metrics.Decisions.WithLabels("metrics-engine", ActionNames.ReduceBatch, signal, "model").Value);
        Assert.Equal(0, metrics.Decisions.WithLabels("metrics-engine", ActionNames.ReduceBatch, text, "escalation").Value);
    }

    [Fact]
    public async Task An_ack_stops_the_retries_and_is_the_status_last_acknowledged_sequence()
    {
        var actuator = Actuator(Eager());
        var holder = CreateTestProbe("holder");
        Register(actuator, holder);
        actuator.Tell(Hot(0));
        var throttle = holder.ExpectMsg<Throttle>(Wait);

        holder.Reply(Ack(throttle));

        holder.ExpectNoMsg(TimeSpan.FromSeconds(1.5));
        var status = await Status(actuator);
        Assert.Equal((1L, 1L, true), (status.LastSequence, status.LastAckedSequence, status.Reachable));
    }

    [Fact]
    public void A_Throttle_sent_after_the_retries_stopped_is_retried_again_until_acknowledged()
    {
        // Retries are per Throttle: one acknowledged and settled says nothing of the next, which waits for its own ack.
        var actuator = Actuator(Eager());
        var holder = CreateTestProbe("holder");
        Register(actuator, holder);
        actuator.Tell(Hot(0));
        holder.Reply(Ack(holder.ExpectMsg<Throttle>(Wait)));
        holder.ExpectNoMsg(TimeSpan.FromSeconds(1)); // nothing pending: the retries stop

        actuator.Tell(Hot(2)); // past the 1 s cooldown: a second cut
        var second = holder.ExpectMsg<Throttle>(Wait);
        var resent = holder.ExpectMsg<Throttle>(Wait);
        Assert.Equal((2L, 2L), (second.Sequence, resent.Sequence));
        holder.Reply(Ack(resent));
        holder.ExpectNoMsg(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task An_ack_from_another_actor_system_than_the_holders_is_dropped_and_the_Throttle_is_still_retried()
    {
        var actuator = Actuator(new ActuatorConfig { AckTimeout = TimeSpan.FromMilliseconds(500), MaxBackoff = TimeSpan.FromSeconds(2) });
        var holder = CreateTestProbe("holder");
        Register(actuator, holder);
        actuator.Tell(Hot(0));
        var throttle = holder.ExpectMsg<Throttle>(Wait);
        var forger = ActorSystem.Create("forger", ConfigurationFactory.ParseString("""
            akka.loglevel = WARNING
            akka.actor.provider = remote
            akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
            """).WithFallback(ScarcitySerialization.Config));
        try
        {
            var remoteActuator = forger.ActorSelection(new RootActorPath(((ExtendedActorSystem)Sys).Provider.DefaultAddress) / actuator.Path.Elements);

            remoteActuator.Tell(Ack(throttle)); // the right subsystem and sequence, from the wrong process
            await remoteActuator.Ask<ActorIdentity>(new Identify(null), Wait); // delivered (and dropped) before this answer

            Assert.Equal(throttle.Sequence, holder.ExpectMsg<Throttle>(Wait).Sequence); // still retried
            Assert.Equal(0L, (await Status(actuator)).LastAckedSequence);
            holder.Reply(Ack(throttle));
            await AwaitAssertAsync(async () => Assert.Equal(throttle.Sequence, (await Status(actuator)).LastAckedSequence), Wait);
        }
        finally
        {
            Shutdown(forger, Wait);
        }
    }

    [Fact]
    public void A_newer_Throttle_supersedes_the_pending_one_only_the_newer_is_retried()
    {
        var actuator = Actuator(new ActuatorConfig { AckTimeout = TimeSpan.FromMilliseconds(500), MaxBackoff = TimeSpan.FromSeconds(2) });
        var holder = CreateTestProbe("holder");
        Register(actuator, holder);
        actuator.Tell(Hot(0));
        Assert.Equal(1, holder.ExpectMsg<Throttle>(Wait).Sequence);

        actuator.Tell(Hot(2));

        Assert.Equal(2, holder.ExpectMsg<Throttle>(Wait).Sequence);
        var retried = holder.ReceiveWhile(m => (Throttle)m, max: TimeSpan.FromSeconds(2));
        Assert.NotEmpty(retried);
        Assert.All(retried, t => Assert.Equal(2, t.Sequence));
    }

    [Fact]
    public async Task A_second_live_registration_from_another_actor_is_rejected_and_the_holder_keeps_the_name()
    {
        var actuator = Actuator();
        var holder = CreateTestProbe("holder");
        var impostor = CreateTestProbe("impostor");
        Register(actuator, holder);
        _profilers.ExpectMsg<AttachSubsystem>(Wait);

        actuator.Tell(Registration(impostor.Ref), impostor.Ref);

        var rejected = impostor.ExpectMsg<RegistrationRejected>(Wait);
        Assert.Equal(Subsystem, rejected.Name);
        Assert.Contains("already registered", rejected.Reason);
        Assert.Contains(holder.Ref.Path.ToString(), rejected.Reason);
        actuator.Tell(Hot(0));
        Assert.Equal(1, holder.ExpectMsg<Throttle>(Wait).Sequence);
        impostor.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        _profilers.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // the profiler keeps counting the holder's reports only
        Assert.True((await Status(actuator)).Reachable); // the holder answered the actuator's probe
    }

    [Fact]
    public async Task After_the_holder_dies_a_new_registration_is_accepted_with_the_current_levels_and_sequence()
    {
        var actuator = Actuator();
        var holder = CreateTestProbe("holder");
        Register(actuator, holder);
        actuator.Tell(Hot(0));
        holder.Reply(Ack(holder.ExpectMsg<Throttle>(Wait)));

        Watch(holder.Ref);
        Sys.Stop(holder.Ref);
        ExpectTerminated(holder.Ref, Wait);
        await AwaitAssertAsync(async () => Assert.False((await Status(actuator)).Reachable), Wait);
        var successor = CreateTestProbe("successor");
        var registered = Register(actuator, successor);

        Assert.Equal(0.5, registered.Levels[ActionNames.ReduceBatch]);
        Assert.Equal(1.0, registered.Levels[ActionNames.Throttle]);
        Assert.Equal(1, registered.LastSequence);
        _profilers.FishForMessage<AttachSubsystem>(a => a.Holder == ProfilerActor.HolderPathOf(successor.Ref, Sys), Wait);
        actuator.Tell(Hot(2));
        var next = successor.ExpectMsg<Throttle>(Wait);
        Assert.Equal((2L, 0.25), (next.Sequence, next.Level));
    }

    [Fact]
    public async Task A_registration_after_a_crash_at_start_carries_the_hard_limit_and_the_cut_is_journalled()
    {
        // Arrange: the engine registers and dies before it reports anything (an OOM in its first step).
        var actuator = Actuator();
        var holder = CreateTestProbe("holder");
        Assert.Equal(1.0, Register(actuator, holder).Levels[ActionNames.ReduceBatch]);
        Watch(holder.Ref);
        Sys.Stop(holder.Ref);
        ExpectTerminated(holder.Ref, Wait);
        await AwaitAssertAsync(async () => Assert.False((await Status(actuator)).Reachable), Wait);

        // Act: its restarted process registers again, within a minute and with no report in between.
        var restarted = CreateTestProbe("restarted");
        var registered = Register(actuator, restarted);

        // Assert: the reply already carries half the level it crashed at, as decision 1, so its first step back fits.
        Assert.Equal(0.5, registered.Levels[ActionNames.ReduceBatch]);
        Assert.Equal(1, registered.LastSequence);
        restarted.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // the reply carried it: no Throttle repeats it
        Watch(actuator);
        Sys.Stop(actuator);
        ExpectTerminated(actuator, Wait);
        var resumed = await Status(Actuator());
        Assert.Equal(0.5, resumed.Levels[ActionNames.ReduceBatch]);
        Assert.Equal(1, resumed.LastSequence);
    }

    [Theory]
    [InlineData(100)] // levels and sequence replayed from the decisions in the journal
    [InlineData(1)]   // from a snapshot
    public async Task A_restarted_actuator_recovers_levels_and_sequence_and_the_holder_registering_again_gets_them(int snapshotEvery)
    {
        var config = Patient();
        config.SnapshotEvery = snapshotEvery;
        var first = Actuator(config);
        var holder = CreateTestProbe("holder");
        Register(first, holder);
        first.Tell(Hot(0));
        holder.Reply(Ack(holder.ExpectMsg<Throttle>(Wait)));
        first.Tell(Hot(2));
        holder.Reply(Ack(holder.ExpectMsg<Throttle>(Wait)));
        await AwaitJournaled(first);

        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first, Wait);
        var second = Actuator(config); // the same persistence id
        var registered = Register(second, holder);

        Assert.Equal(0.25, registered.Levels[ActionNames.ReduceBatch]);
        Assert.Equal(2, registered.LastSequence);
        second.Tell(Hot(4));
        var next = holder.ExpectMsg<Throttle>(Wait);
        Assert.Equal((3L, 0.125), (next.Sequence, next.Level));
    }

    [Theory]
    [InlineData(100)] // from the journal
    [InlineData(1)]   // from a snapshot taken after the registration (its event is not replayed)
    public async Task A_restarted_actuator_resumes_governing_the_holder_it_recovered_without_a_new_registration(int snapshotEvery)
    {
        var config = Patient();
        config.SnapshotEvery = snapshotEvery;
        var first = Actuator(config);
        var holder = CreateTestProbe("holder");
        Register(first, holder);
        first.Tell(Hot(0));
        holder.Reply(Ack(holder.ExpectMsg<Throttle>(Wait)));
        _profilers.ExpectMsg<AttachSubsystem>(Wait);
        await AwaitJournaled(first);

        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first, Wait);
        var second = Actuator(config);

        var attach = _profilers.ExpectMsg<AttachSubsystem>(Wait); // the host's profiler hears of the subsystem again
        Assert.Equal(ProfilerActor.HolderPathOf(holder.Ref, Sys), attach.Holder);
        var status = await Status(second);
        Assert.Equal((0.5, 1L, true), (status.Levels[ActionNames.ReduceBatch], status.LastSequence, status.Reachable));
        second.Tell(Hot(2));
        Assert.Equal(2, holder.ExpectMsg<Throttle>(Wait).Sequence);
    }

    [Fact]
    public async Task Profiles_buffered_while_the_actuator_moved_yield_one_decision_on_the_newest_not_a_burst()
    {
        var first = Actuator();
        var holder = CreateTestProbe("holder");
        Register(first, holder);
        first.Tell(Hot(0));
        var before = holder.ExpectMsg<Throttle>(Wait);
        holder.Reply(Ack(before));
        await AwaitJournaled(first);
        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first, Wait);

        // As after a failover: the entity starts again and gets, at once, 20 s of profiles that queued up meanwhile
        // (4 a second, every one hot). Replayed one by one, the 1 s cooldown would allow 20 decisions within milliseconds.
        var second = Actuator();
        for (var i = 1; i <= 80; i++) second.Tell(Hot(i * 0.25));

        var next = holder.ExpectMsg<Throttle>(Wait);
        holder.Reply(Ack(next));
        Assert.Equal((2L, 0.25, T0.AddSeconds(20)), (next.Sequence, next.Level, next.IssuedAt)); // the newest profile's data
        holder.ExpectNoMsg(TimeSpan.FromSeconds(1));

        second.Tell(Hot(15)); // older than the one evaluated: a reordered or twice-buffered profile changes nothing
        holder.ExpectNoMsg(TimeSpan.FromMilliseconds(500));
        second.Tell(Hot(21.5)); // fresh data past the cooldown decides as usual
        Assert.Equal((3L, T0.AddSeconds(21.5)), (holder.ExpectMsg<Throttle>(Wait) is var t ? (t.Sequence, t.IssuedAt) : default));
    }

    [Fact]
    public async Task The_learned_model_survives_a_restart_with_the_actuator_entity_and_the_status_shows_it()
    {
        // Arrange: an engine whose VRAM follows 0.40 + 0.384 x level x context_k, the context rising 0.04/s from 1.0k.
        var config = Patient();
        config.SnapshotEvery = 1;
        var first = Actuator(config);
        var holder = CreateTestProbe("holder");
        Register(first, holder);
        var context = MetricNames.Labelled(MetricNames.ContextK, MetricNames.SubsystemLabel, Subsystem);
        var level = 1.0;
        for (var i = 0; i < 60; i++)
        {
            var t = i * 0.25;
            var k = 1.0 + 0.04 * t;
            var vram = 0.40 + 0.006 * Math.Floor(64 * level) * k;
            var at = T0.AddSeconds(t);
            first.Tell(new EvaluateProfile(Subsystem, new HostProfile(Host, at, PressureLevel.Green, ImmutableDictionary<string, MetricEstimate>.Empty
                .Add(MetricNames.VramUtil, new MetricEstimate(vram, vram, vram, 0, vram, 0, at, false))
                .Add(context, new MetricEstimate(k, k, k, 0, k, 0, at, false)))));
            // Status answers after every profile before it: the level the engine runs at the next step.
            level = (await Status(first)).Levels[ActionNames.ReduceBatch];
        }
        var before = (await Status(first)).Model;
        Assert.NotNull(before);
        Assert.True(before.Confident, $"confidence {before.Confidence}");
        Assert.True(level < 1, "the model never cut, so no snapshot holds it");
        // The snapshot of its last decision is written (a stop drops what its journal writer still holds).
        await AwaitAssertAsync(async () =>
        {
            var loaded = await Akka.Persistence.Persistence.Instance.Apply(Sys).SnapshotStoreFor(null).Ask<Akka.Persistence.LoadSnapshotResult>(
                new Akka.Persistence.LoadSnapshot(ActuatorActor.PersistenceIdFor(Subsystem), Akka.Persistence.SnapshotSelectionCriteria.Latest, long.MaxValue), Wait);
            var saved = Assert.IsType<ActuatorSnapshot>(loaded.Snapshot?.Snapshot);
            Assert.Equal(level, saved.Levels[ActionNames.ReduceBatch]);
        }, Wait);

        // Act
        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first, Wait);
        var after = (await Status(Actuator(config))).Model;

        // Assert: the coefficients it had (from the last snapshot), confident without a new reading.
        Assert.NotNull(after);
        Assert.True(after.Confident);
        Assert.Equal(0.40, after.Intercept, 2);
        Assert.Equal(0.384, after.Slope, 2);
        Assert.True(after.Samples >= BatchResponseModel.MinSamples);
    }

    // Probes on drg.signal.reduce_batch and on the node's warnings, then a registered actuator fed VRAM at 0.95 whatever
    // the level (another process holds it) `profiles` times, 2 s apart: two cuts, then the third is held.
    private (TestProbe Signals, TestProbe Warnings, IActorRef Actuator, TestProbe Holder) HotWhateverTheLevel(int profiles)
    {
        var signals = CreateTestProbe("signals");
        DistributedPubSub.Get(Sys).Mediator.Tell(new Subscribe(Topics.Signal(ActionNames.ReduceBatch), signals.Ref), signals.Ref);
        signals.ExpectMsg<SubscribeAck>(Wait);
        var warnings = CreateTestProbe("warnings");
        Sys.EventStream.Subscribe(warnings.Ref, typeof(Akka.Event.Warning));
        var actuator = Actuator();
        var holder = CreateTestProbe("holder");
        Register(actuator, holder);
        for (var i = 0; i < profiles; i++) actuator.Tell(Hot(2 * i));
        return (signals, warnings, actuator, holder);
    }

    [Fact]
    public async Task An_action_cut_twice_without_effect_holds_and_drg_signal_and_the_status_say_it_is_ineffective()
    {
        var (signals, warnings, actuator, holder) = HotWhateverTheLevel(4);

        Assert.Equal([0.5, 0.25], new[] { holder.ExpectMsg<Throttle>(Wait).Level, holder.ExpectMsg<Throttle>(Wait).Level });
        Assert.Equal([0.5, 0.25], new[] { signals.ExpectMsg<Decision>(Wait).Level, signals.ExpectMsg<Decision>(Wait).Level });
        var notice = signals.ExpectMsg<Decision>(Wait);
        Assert.False(notice.Sent);
        Assert.Equal((0.25, 0.25, "ineffective"), (notice.PreviousLevel, notice.Level, notice.Reason.Signal));
        Assert.StartsWith("ineffective: 2 cuts of reduce_batch", notice.Detail, StringComparison.Ordinal);
        holder.ExpectNoMsg(TimeSpan.FromMilliseconds(500));
        var status = await Status(actuator);
        Assert.NotNull(status.Ineffective);
        Assert.True(status.Ineffective.ContainsKey(ActionNames.ReduceBatch));
        Assert.Equal(0.25, status.Levels[ActionNames.ReduceBatch]);
        warnings.FishForMessage<Akka.Event.Warning>(w => w.Message.ToString()!.Contains("ineffective: 2 cuts of reduce_batch", StringComparison.Ordinal), Wait);
    }

    [Fact]
    public async Task With_the_nodes_warning_budget_spent_an_ineffective_verdict_is_still_published_and_counted_but_not_logged()
    {
        // Twenty other subsystems of this node were found ineffective this minute.
        var budget = IneffectiveLog.Get(Sys).Budget;
        while (budget.Take(Sys.Scheduler.Now).Log)
        {
        }
        var verdicts = GovernorMetrics.Get(Sys).IneffectiveVerdicts.WithLabels(Subsystem, ActionNames.ReduceBatch);
        var before = verdicts.Value;

        var (signals, warnings, actuator, _) = HotWhateverTheLevel(3);

        signals.ExpectMsg<Decision>(Wait);
        signals.ExpectMsg<Decision>(Wait);
        Assert.Equal("ineffective", signals.ExpectMsg<Decision>(Wait).Reason.Signal);
        Assert.True((await Status(actuator)).Ineffective?.ContainsKey(ActionNames.ReduceBatch));
        Assert.Equal(before + 1, verdicts.Value);
        // The actor logs before it answers the status query: a warning would be here by now.
        var lines = new List<string>();
        while (warnings.HasMessages)
            if (warnings.ReceiveOne(TimeSpan.Zero) is Akka.Event.Warning w) lines.Add(w.Message.ToString()!);
        Assert.DoesNotContain(lines, l => l.Contains("ineffective", StringComparison.Ordinal));
    }
}
