using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.TestKit;
using Akka.TestKit;
using Scarcity.Actors.Actuation;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Metrics;
using Scarcity.Actors.Policies;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.Tests.Actuation;

/// <summary>
/// An <see cref="ActuatorActor"/> on Akka.Persistence.TestKit's journal, made to fail as an unreachable database makes
/// the SQL journal fail (the write throws; the highest sequence number can still be asked or not): the actuator keeps
/// sending Throttles, says the journal is failing, and writes what it decided once the journal takes writes again, each
/// event once, in order. The multi-process spec (DatabaseOutageSpecs) does the same against a real PostgreSQL stopped
/// and started under load.
/// </summary>
public sealed class ActuatorJournalFailureSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private const string Subsystem = "engine";
    private const string Host = "gpu-01";

    private static readonly Config Hocon = ConfigurationFactory.ParseString("""
        akka.persistence.journal.plugin = "akka.persistence.journal.test"
        akka.persistence.journal.test {
          class = "Akka.Persistence.TestKit.TestJournal, Akka.Persistence.TestKit"
          plugin-dispatcher = "akka.actor.default-dispatcher"
        }
        """).WithFallback(ActorSpecConfig.LocalNode);

    private readonly TestProbe _profilers;
    private readonly ITestJournal _journal;

    public ActuatorJournalFailureSpecs(ITestOutputHelper output) : base(Hocon, "actuator-journal-specs", output)
    {
        _profilers = CreateTestProbe("profilers");
        _journal = TestJournal.FromRef(Persistence.Instance.Apply(Sys).JournalFor(null));
    }

    private static PolicyConfig Policy() => new()
    {
        Policies = { ["*"] = [new PolicyRule(MetricNames.VramUtil, 0.85, ActionNames.ReduceBatch, 0.5) { Signal = SignalKind.Raw }] },
        Cooldown = TimeSpan.FromSeconds(1),
        RecoveryDelay = TimeSpan.FromMinutes(10),
        MinLevel = 0.0001,
        // The same hot reading drives every decision: without the effect check, which would hold after two cuts.
        IneffectiveAfterCuts = 0,
    };

    // PersistBeforeSend as the cluster configurations ship: the case where a failing journal would hold every Throttle.
    private static ActuatorConfig Config() => new() { AckTimeout = TimeSpan.FromSeconds(30), MaxBackoff = TimeSpan.FromSeconds(30), PersistBeforeSend = true };

    private static PersistenceConfig Journaling(int writeBuffer = 1000) => new()
    {
        WriteBuffer = writeBuffer, WriteRetryMin = TimeSpan.FromMilliseconds(100), WriteRetryMax = TimeSpan.FromMilliseconds(400),
    };

    private int _started;

    // A new name for every start: the guardian frees a stopped child's name only after the watcher's Terminated may have
    // arrived, so reusing it at once can fail with "not unique". The persistence id is the subsystem's either way.
    private IActorRef Actuator(PersistenceConfig persistence) =>
        Sys.ActorOf(ActuatorActor.Props(Subsystem, Policy(), Config(), _profilers.Ref, persistence), $"actuator-{Subsystem}-{++_started}");

    private static EvaluateProfile Hot(double seconds) => new(Subsystem, new HostProfile(Host, T0.AddSeconds(seconds), PressureLevel.Red,
        ImmutableDictionary<string, MetricEstimate>.Empty.Add(MetricNames.VramUtil,
            new MetricEstimate(0.95, 0.95, 0.95, 0, 0.95, 0, T0.AddSeconds(seconds), false))));

    private static Task<SubsystemStatus> Status(IActorRef actuator) => actuator.Ask<SubsystemStatus>(new GetSubsystemStatus(Subsystem), Wait);

    private List<Throttle> Govern(IActorRef actuator, TestProbe holder, int from, int count)
    {
        var throttles = new List<Throttle>();
        for (var i = from; i < from + count; i++)
        {
            actuator.Tell(Hot(i * 2)); // 2 s apart: past the cooldown, so each profile is a decision
            var throttle = holder.ExpectMsg<Throttle>(Wait);
            holder.Reply(new ThrottleAck(Subsystem, throttle.Sequence, true, "applied"));
            throttles.Add(throttle);
        }
        return throttles;
    }

    [Fact]
    public async Task Throttles_keep_flowing_while_the_journal_fails_and_each_decision_is_written_once_in_order_when_it_returns()
    {
        var (actuator, holder) = await RegisteredAndJournaled();

        await _journal.OnWrite.Fail();
        var during = Govern(actuator, holder, 0, 6);

        Assert.Equal([1L, 2L, 3L, 4L, 5L, 6L], during.Select(t => t.Sequence));
        await AwaitAssertAsync(async () =>
        {
            var status = await Status(actuator);
            Assert.NotNull(status.JournalError);
            Assert.True(status.Unjournaled > 0, $"{status.Unjournaled} waiting");
        }, Wait);
        Assert.True(GovernorMetrics.Get(Sys).JournalFailures.WithLabels("actuator").Value >= 1);

        await _journal.OnWrite.Pass();
        var after = Govern(actuator, holder, 6, 2);

        Assert.Equal([7L, 8L], after.Select(t => t.Sequence));
        var events = await AwaitJournal(9);
        Assert.Equal(Enumerable.Range(1, 9).Select(i => (long)i), events.Select(e => e.SequenceNr)); // no gap, no duplicate
        Assert.IsType<RegisterSubsystem>(events[0].Payload);
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), events.Skip(1).Select(e => ((PersistedDecision)e.Payload).Decision.Sequence));
        await AwaitAssertAsync(async () =>
        {
            var status = await Status(actuator);
            Assert.Null(status.JournalError);
            Assert.Equal(0, status.Unjournaled);
        }, Wait);
    }

    [Fact]
    public async Task A_write_that_stored_part_of_a_batch_before_failing_is_completed_without_writing_any_event_twice()
    {
        var (actuator, holder) = await RegisteredAndJournaled();

        // The test journal stores a batch event by event: failing at journal sequence 4 once stores 2 and 3 of a batch
        // [2, 3, 4, ...] and reports the whole batch failed, as a connection lost in the middle of a write can.
        var failedOnce = 0;
        await _journal.OnWrite.FailIf(p => p.SequenceNr == 4 && Interlocked.Exchange(ref failedOnce, 1) == 0);
        for (var i = 0; i < 5; i++) actuator.Tell(Hot(i * 2)); // at once: decisions 2.. wait while 1 is written, then go as one batch
        var throttles = Enumerable.Range(0, 5).Select(_ => holder.ExpectMsg<Throttle>(Wait)).ToList();

        Assert.Equal([1L, 2L, 3L, 4L, 5L], throttles.Select(t => t.Sequence));

        var events = await AwaitJournal(6);
        Assert.Equal(1, failedOnce);
        Assert.Equal(Enumerable.Range(1, 6).Select(i => (long)i), events.Select(e => e.SequenceNr));
        Assert.Equal(Enumerable.Range(1, 5).Select(i => (long)i), events.Skip(1).Select(e => ((PersistedDecision)e.Payload).Decision.Sequence));
    }

    [Fact]
    public async Task What_overflows_the_write_buffer_is_counted_and_reported_and_the_rest_is_written_in_order()
    {
        var overflowBefore = GovernorMetrics.Get(Sys).JournalOverflow.WithLabels("actuator").Value;
        var actuator = Actuator(Journaling(writeBuffer: 3));
        var holder = CreateTestProbe("holder");
        actuator.Tell(new RegisterSubsystem(Subsystem, Host, 5, [ActionNames.ReduceBatch], holder.Ref), holder.Ref);
        holder.ExpectMsg<SubsystemRegistered>(Wait);
        await AwaitJournal(1);

        await _journal.OnWrite.Fail();
        Govern(actuator, holder, 0, 7);
        var status = await AwaitStatus(actuator, s => s.JournalOverflowed >= 1);
        var dropped = GovernorMetrics.Get(Sys).JournalOverflow.WithLabels("actuator").Value - overflowBefore;
        await _journal.OnWrite.Pass();

        var events = await AwaitJournal(1 + 7 - (int)dropped);
        Assert.True(dropped >= 4, $"{dropped} dropped of 7 with room for 3"); // the first may be in a write when the failure began
        Assert.Equal(status.JournalOverflowed, (long)dropped);
        var decisions = events.Skip(1).Select(e => ((PersistedDecision)e.Payload).Decision.Sequence).ToList();
        Assert.Equal(decisions.Order(), decisions);
        Assert.Equal(7, decisions[^1]); // the newest decisions are kept, the oldest dropped
        Assert.Equal(events.Select(e => e.SequenceNr).Distinct().Count(), events.Count);
    }

    [Fact]
    public async Task An_actuator_restarted_after_the_outage_recovers_the_levels_and_sequence_decided_during_it()
    {
        var actuator = Actuator(Journaling());
        var holder = CreateTestProbe("holder");
        actuator.Tell(new RegisterSubsystem(Subsystem, Host, 5, [ActionNames.ReduceBatch], holder.Ref), holder.Ref);
        holder.ExpectMsg<SubsystemRegistered>(Wait);
        await _journal.OnWrite.Fail();
        Govern(actuator, holder, 0, 3);
        await _journal.OnWrite.Pass();
        await AwaitJournal(4);

        Watch(actuator);
        Sys.Stop(actuator);
        ExpectTerminated(actuator, Wait);
        var second = Actuator(Journaling());
        second.Tell(new RegisterSubsystem(Subsystem, Host, 5, [ActionNames.ReduceBatch], holder.Ref), holder.Ref);
        var registered = holder.ExpectMsg<SubsystemRegistered>(Wait);

        Assert.Equal((3L, 0.125), (registered.LastSequence, registered.Levels[ActionNames.ReduceBatch]));
    }

    [Fact]
    public async Task A_recovery_that_fails_stops_the_entity_counted_and_reported_and_a_start_after_the_outage_recovers()
    {
        var first = Actuator(Journaling());
        var holder = CreateTestProbe("holder");
        first.Tell(new RegisterSubsystem(Subsystem, Host, 5, [ActionNames.ReduceBatch], holder.Ref), holder.Ref);
        holder.ExpectMsg<SubsystemRegistered>(Wait);
        Govern(first, holder, 0, 2);
        await AwaitJournal(3);
        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first, Wait);
        var failuresBefore = GovernorMetrics.Get(Sys).RecoveryFailures.WithLabels("actuator").Value;

        await _journal.OnRecovery.Fail(); // as a shard moving while the database is down finds it
        var failed = Actuator(Journaling());
        Watch(failed);
        ExpectTerminated(failed, Wait); // Akka.Persistence stops it; sharding would start it again after its backoff

        Assert.Equal(failuresBefore + 1, GovernorMetrics.Get(Sys).RecoveryFailures.WithLabels("actuator").Value);
        var health = Scarcity.Actors.Journaling.PersistenceHealth.Get(Sys);
        Assert.Equal(ActuatorActor.PersistenceIdFor(Subsystem), health.OldestFailure?.PersistenceId);

        await _journal.OnRecovery.Pass();
        var third = Actuator(Journaling());
        third.Tell(new RegisterSubsystem(Subsystem, Host, 5, [ActionNames.ReduceBatch], holder.Ref), holder.Ref);
        var registered = holder.ExpectMsg<SubsystemRegistered>(Wait);

        Assert.Equal(2, registered.LastSequence);
        Assert.Null(health.OldestFailure);
    }

    private async Task<SubsystemStatus> AwaitStatus(IActorRef actuator, Func<SubsystemStatus, bool> condition)
    {
        SubsystemStatus? last = null;
        await AwaitConditionAsync(async () => condition(last = await Status(actuator)), Wait);
        return last!;
    }

    // The journal's events of the actuator once it holds at least `count` of them.
    [Fact]
    public async Task Handed_off_an_actuator_stops_only_once_its_unwritten_decisions_are_in_the_journal()
    {
        var actuator = await DecidingWhileTheJournalFails(3);

        // Act: sharding's hand-off (a rebalance, a leaving node) while the decisions still wait for the journal.
        actuator.Tell(ActuatorActor.StopWhenWritten.Instance);

        ExpectNoMsg(TimeSpan.FromMilliseconds(500)); // not stopped: three decisions are not written yet
        await _journal.OnWrite.Pass();
        ExpectTerminated(actuator, Wait);
        var events = await ReadJournal();
        Assert.Equal([1L, 2L, 3L], events.Skip(1).Select(e => ((PersistedDecision)e.Payload).Decision.Sequence));
    }

    [Fact]
    public async Task Handed_off_while_the_journal_stays_down_an_actuator_stops_after_the_drain_timeout()
    {
        var actuator = await DecidingWhileTheJournalFails(2);

        actuator.Tell(ActuatorActor.StopWhenWritten.Instance);

        ExpectTerminated(actuator, ActuatorActor.HandOffDrainTimeout + Wait); // a hand-off never waits for ever on a dead database
    }

    [Fact]
    public async Task Handed_off_right_after_a_decision_a_healthy_but_slow_journal_is_waited_for_and_the_decision_is_sent_and_kept()
    {
        var (actuator, holder) = await RegisteredAndJournaled();
        await _journal.OnWrite.PassWithDelay(TimeSpan.FromSeconds(1)); // a busy database: every write takes a second, none fails
        Watch(actuator);

        // Act: the hand-off arrives while the decision's write is on its way (no failure told, nothing reported waiting yet).
        actuator.Tell(Hot(0));
        actuator.Tell(ActuatorActor.StopWhenWritten.Instance);

        ExpectNoMsg(TimeSpan.FromMilliseconds(500)); // not stopped: its decision is not in the journal yet
        var throttle = holder.ExpectMsg<Throttle>(Wait); // sent once written (PersistBeforeSend), before the stop
        ExpectTerminated(actuator, Wait);
        var events = await ReadJournal();
        Assert.Equal([throttle.Sequence], events.Skip(1).Select(e => ((PersistedDecision)e.Payload).Decision.Sequence));
    }

    // An actuator whose subsystem registered, the registration in the journal.
    private async Task<(IActorRef Actuator, TestProbe Holder)> RegisteredAndJournaled()
    {
        var actuator = Actuator(Journaling());
        var holder = CreateTestProbe("holder");
        actuator.Tell(new RegisterSubsystem(Subsystem, Host, 5, [ActionNames.ReduceBatch], holder.Ref), holder.Ref);
        holder.ExpectMsg<SubsystemRegistered>(Wait);
        await AwaitJournal(1);
        return (actuator, holder);
    }

    // A registered, watched actuator that took `decisions` decisions the failing journal has not taken yet.
    private async Task<IActorRef> DecidingWhileTheJournalFails(int decisions)
    {
        var (actuator, holder) = await RegisteredAndJournaled();
        await _journal.OnWrite.Fail();
        Govern(actuator, holder, 0, decisions);
        await AwaitAssertAsync(async () => Assert.True((await Status(actuator)).Unjournaled > 0), Wait);
        Watch(actuator);
        return actuator;
    }

    private async Task<List<IPersistentRepresentation>> AwaitJournal(int count)
    {
        List<IPersistentRepresentation> events = [];
        await AwaitConditionAsync(async () => (events = await ReadJournal()).Count >= count, Wait);
        return events;
    }

    private async Task<List<IPersistentRepresentation>> ReadJournal()
    {
        var reader = CreateTestProbe();
        Persistence.Instance.Apply(Sys).JournalFor(null)
            .Tell(new ReplayMessages(0, long.MaxValue, long.MaxValue, ActuatorActor.PersistenceIdFor(Subsystem), reader.Ref), reader.Ref);
        var events = new List<IPersistentRepresentation>();
        while (true)
        {
            switch (await reader.ReceiveOneAsync(Wait))
            {
                case ReplayedMessage replayed:
                    events.Add(replayed.Persistent);
                    break;
                case RecoverySuccess:
                    return events;
                case var other:
                    throw new InvalidOperationException($"unexpected {other}");
            }
        }
    }
}
