using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Configuration;
using Akka.Persistence;
using Akka.TestKit;
using Scarcity.Actors.Actuation;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Profiling;
using Scarcity.Actors.Testing;
using Scarcity.Actors.Sharding;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.Tests.Profiling;

/// <summary>
/// The profiler entity alone under TestKit on a one-node cluster (it publishes through DistributedPubSub), with the
/// in-memory journal and snapshot store, probes standing in for the actuator region and the telemetry digest: it hands
/// each sample's profile to every attached subsystem's actuator, counts and drops non-finite readings, calls its host
/// stale when samples stop, and resumes its filters and subsystems after a restart.
/// </summary>
public sealed class ProfilerActorSpecs : Akka.TestKit.Xunit2.TestKit
{
    private const string Host = "gpu-profiler-spec";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan SlowInterval = TimeSpan.FromSeconds(10); // no stale check within a spec
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly Config SpecConfig = ActorSpecConfig.LocalNodeVerifyingSerialization;

    private readonly TestProbe _actuators;
    private readonly TestProbe _digest;

    public ProfilerActorSpecs(ITestOutputHelper output) : base(SpecConfig, output: output)
    {
        var cluster = Akka.Cluster.Cluster.Get(Sys);
        cluster.Join(cluster.SelfAddress);
        AwaitCondition(() => cluster.SelfMember.Status == MemberStatus.Up, TimeSpan.FromSeconds(20));
        _actuators = CreateTestProbe();
        _digest = CreateTestProbe();
    }

    private IActorRef StartProfiler(ProfilerConfig? config = null, TimeSpan? interval = null) =>
        Sys.ActorOf(ProfilerActor.Props(Host, config ?? new ProfilerConfig(), interval ?? SlowInterval, _actuators.Ref, _digest.Ref));

    // A probe subscribed to the NodeStale topic, once the mediator has acknowledged it.
    private TestProbe StaleWatcher()
    {
        var stale = CreateTestProbe();
        DistributedPubSub.Get(Sys).Mediator.Tell(new Subscribe(Topics.NodeStale, stale.Ref), stale.Ref);
        stale.ExpectMsg<SubscribeAck>(Wait);
        return stale;
    }

    private static Sample At(DateTimeOffset at, params (string Metric, double Value)[] values) =>
        new(Host, at, [.. values.Select(v => new MetricValue(v.Metric, v.Value))], []);

    [Fact]
    public void A_sample_reaches_the_actuator_of_every_attached_subsystem_and_the_digest_and_a_detached_one_no_longer()
    {
        var profiler = StartProfiler();
        profiler.Tell(new AttachSubsystem(Host, "engine-a"));
        profiler.Tell(new AttachSubsystem(Host, "engine-b"));
        profiler.Tell(new AttachSubsystem(Host, "engine-a")); // attaching twice changes nothing

        profiler.Tell(At(T0, (MetricNames.VramUtil, 0.5), (MetricNames.CpuUtil, 0.2)));

        var evaluations = _actuators.ReceiveN(2, Wait).Cast<EvaluateProfile>().ToList();
        Assert.Equal(["engine-a", "engine-b"], evaluations.Select(e => e.Subsystem).Order());
        Assert.All(evaluations, e =>
        {
            Assert.Equal(Host, e.Profile.Host);
            Assert.Equal(T0, e.Profile.At);
            Assert.Equal(0.5, e.Profile.Metrics[MetricNames.VramUtil].Raw);
            Assert.Equal(0.2, e.Profile.Metrics[MetricNames.CpuUtil].Raw);
        });
        var telemetry = _digest.ExpectMsg<TelemetryPublished>(Wait);
        Assert.Equal(Host, telemetry.Profile.Host);
        Assert.Equal(T0, telemetry.Profile.At);
        Assert.Equal([MetricNames.CpuUtil, MetricNames.VramUtil], telemetry.Profile.Metrics.Keys.Order());
        Assert.Equal((0L, 2L, 1L), (telemetry.RejectedValues, telemetry.ValuesProfiled, telemetry.SamplesProfiled));
        _actuators.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // one profile per subsystem, not per attach

        profiler.Tell(new DetachSubsystem(Host, "engine-b"));
        profiler.Tell(At(T0.AddSeconds(0.25), (MetricNames.VramUtil, 0.6)));
        profiler.Tell(At(T0.AddSeconds(0.5), (MetricNames.VramUtil, 0.7)));

        // engine-b would show up among the first two if it still got profiles.
        var after = _actuators.ReceiveN(2, Wait).Cast<EvaluateProfile>().ToList();
        Assert.Equal([("engine-a", T0.AddSeconds(0.25)), ("engine-a", T0.AddSeconds(0.5))], after.Select(e => (e.Subsystem, e.Profile.At)));
        Assert.Equal(0.7, after[1].Profile.Metrics[MetricNames.VramUtil].Raw);
        Assert.Equal([2L, 3L], _digest.ReceiveN(2, Wait).Cast<TelemetryPublished>().Select(t => t.SamplesProfiled));
    }

    [Fact]
    public void NaN_and_infinite_readings_are_counted_and_dropped_while_the_other_readings_of_the_sample_are_profiled()
    {
        var profiler = StartProfiler();
        profiler.Tell(new AttachSubsystem(Host, "engine"));

        profiler.Tell(At(T0, (MetricNames.VramUtil, double.NaN), (MetricNames.CpuUtil, double.PositiveInfinity), (MetricNames.MemUtil, 0.4)));
        var first = _digest.ExpectMsg<TelemetryPublished>(Wait);
        var evaluated = _actuators.ExpectMsg<EvaluateProfile>(Wait);

        Assert.Equal([MetricNames.MemUtil], first.Profile.Metrics.Keys);
        Assert.Equal([MetricNames.MemUtil], evaluated.Profile.Metrics.Keys);
        Assert.Equal((2L, 1L), (first.RejectedValues, first.ValuesProfiled));

        profiler.Tell(At(T0.AddSeconds(0.25), (MetricNames.VramUtil, 0.6), (MetricNames.CpuUtil, double.NegativeInfinity), (MetricNames.MemUtil, 0.4)));
        var second = _digest.ExpectMsg<TelemetryPublished>(Wait);
        Assert.Equal([MetricNames.MemUtil, MetricNames.VramUtil], second.Profile.Metrics.Keys.Order());
        Assert.Equal((3L, 3L), (second.RejectedValues, second.ValuesProfiled));

        // A NaN of a known series leaves it as it was: it does not poison its filters.
        profiler.Tell(At(T0.AddSeconds(0.5), (MetricNames.VramUtil, double.NaN), (MetricNames.MemUtil, 0.4)));
        var third = _digest.ExpectMsg<TelemetryPublished>(Wait);
        var vram = third.Profile.Metrics[MetricNames.VramUtil];
        Assert.Equal((4L, 4L), (third.RejectedValues, third.ValuesProfiled));
        // The node's metrics count them too, by host and reason: 4 readings, all non-finite.
        Assert.Equal(4, Scarcity.Actors.Metrics.GovernorMetrics.Get(Sys).ReadingsRejected.WithLabels(Host, "non_finite").Value);
        Assert.Equal(0.6, vram.Raw);
        Assert.Equal(T0.AddSeconds(0.25), vram.UpdatedAt);
        Assert.All(new[] { vram.Ema, vram.Estimate, vram.Trend, vram.Forecast }, v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void When_samples_stop_the_host_turns_stale_after_StaleAfterIntervals_and_a_fresh_sample_clears_it()
    {
        var interval = TimeSpan.FromMilliseconds(200);
        var stale = StaleWatcher();
        var profiler = StartProfiler(new ProfilerConfig { StaleAfterIntervals = 3 }, interval);
        profiler.Tell(new AttachSubsystem(Host, "engine"));

        // A profiler that never had a sample has no sensor to go silent.
        stale.ExpectNoMsg(interval * 6);

        var clock = Stopwatch.StartNew();
        profiler.Tell(At(DateTimeOffset.UtcNow, (MetricNames.VramUtil, 0.5), (MetricNames.CpuUtil, 0.2)));
        Assert.False(_actuators.ExpectMsg<EvaluateProfile>(Wait).Profile.Metrics[MetricNames.VramUtil].Stale);

        var turnedStale = stale.ExpectMsg<NodeStale>(Wait);
        var silentFor = clock.Elapsed;
        Assert.Equal(Host, turnedStale.Host);
        Assert.True(turnedStale.Stale);
        Assert.Equal<string>([MetricNames.CpuUtil, MetricNames.VramUtil], turnedStale.Metrics);
        Assert.True(silentFor >= interval * 3, $"stale after {silentFor.TotalMilliseconds} ms, before 3 intervals of silence");
        // The actuator is told at once, so rules on the host's metrics are skipped and levels hold.
        var staleProfile = _actuators.ExpectMsg<EvaluateProfile>(Wait).Profile;
        Assert.All(staleProfile.Metrics.Values, m => Assert.True(m.Stale));
        Assert.All(_digest.FishForMessage<TelemetryPublished>(t => t.Profile.At == turnedStale.At, Wait).Profile.Metrics.Values,
            m => Assert.True(m.Stale));
        stale.ExpectNoMsg(interval * 3); // said once, not at every check

        profiler.Tell(At(DateTimeOffset.UtcNow, (MetricNames.VramUtil, 0.55), (MetricNames.CpuUtil, 0.2)));
        var fresh = stale.ExpectMsg<NodeStale>(Wait);
        Assert.Equal((Host, false), (fresh.Host, fresh.Stale));
        var freshProfile = _actuators.ExpectMsg<EvaluateProfile>(Wait).Profile;
        Assert.All(freshProfile.Metrics.Values, m => Assert.False(m.Stale));
        Assert.Equal(0.55, freshProfile.Metrics[MetricNames.VramUtil].Raw);
    }

    [Fact]
    public void When_thirty_hosts_turn_stale_at_once_every_one_is_published_but_the_node_logs_twenty_lines_and_says_the_rest_are_counted()
    {
        var warnings = CreateTestProbe();
        Sys.EventStream.Subscribe(warnings.Ref, typeof(Akka.Event.Warning));
        var stale = StaleWatcher();
        const int hosts = 30;
        for (var i = 0; i < hosts; i++)
        {
            var host = $"gpu-storm-{i:D2}";
            Sys.ActorOf(ProfilerActor.Props(host, new ProfilerConfig(), TimeSpan.FromMilliseconds(100), _actuators.Ref, _digest.Ref))
                .Tell(new Sample(host, T0, [new MetricValue(MetricNames.VramUtil, 0.5)], []));
        }

        var published = Enumerable.Range(0, hosts).Select(_ => stale.ExpectMsg<NodeStale>(Wait)).ToList();
        Assert.All(published, n => Assert.True(n.Stale));
        Assert.Equal(hosts, published.Select(n => n.Host).Distinct().Count());

        // Each profiler logs before it publishes: every line it was going to write is already here.
        var lines = new List<string>();
        while (warnings.HasMessages)
            if (warnings.ReceiveOne(TimeSpan.Zero) is Akka.Event.Warning w && w.Message.ToString()!.Contains("no sample for")) lines.Add(w.Message.ToString()!);
        Assert.Equal(HostStaleLog.LinesPerWindow, lines.Count);
        // One of them (the budget's last; profilers on different threads may publish their lines in another order than
        // they took the budget) says the rest are counted.
        Assert.Contains("counted, not logged", Assert.Single(lines, l => l.Contains("counted", StringComparison.Ordinal)));
    }

    [Fact]
    public void A_host_that_keeps_sending_stays_fresh_and_turns_stale_again_at_its_next_silence()
    {
        // Samples that keep coming keep the host fresh however long it runs, and a host that was stale and came back is
        // watched again: its next silence is reported too.
        var interval = TimeSpan.FromMilliseconds(200);
        var stale = StaleWatcher();
        // A 2 s threshold against samples 200 ms apart: only a pause of 1.8 s on a loaded machine would fake a silence.
        var profiler = StartProfiler(new ProfilerConfig { StaleAfterIntervals = 10 }, interval);

        for (var round = 0; round < 2; round++)
        {
            // Three seconds of samples an interval apart: longer than the stale threshold, and no stale call.
            for (var i = 0; i < 15; i++)
            {
                profiler.Tell(At(DateTimeOffset.UtcNow, (MetricNames.VramUtil, 0.5)));
                if (round == 1 && i == 0)
                {
                    var back = stale.ExpectMsg<NodeStale>(Wait); // samples resumed
                    Assert.Equal((Host, false), (back.Host, back.Stale));
                }
                stale.ExpectNoMsg(interval);
            }
            var turned = stale.ExpectMsg<NodeStale>(Wait); // then silence
            Assert.Equal((Host, true), (turned.Host, turned.Stale));
        }
    }

    [Fact]
    public void A_stale_profile_is_stamped_on_the_hosts_clock_so_the_hosts_next_sample_is_evaluated_after_it()
    {
        // The host's clock runs an hour behind the governor's: its samples after the silence must still be newer than
        // the stale profile, or an actuator (which evaluates only newer profiles) would drop them for an hour.
        var interval = TimeSpan.FromMilliseconds(200);
        var hostClock = DateTimeOffset.UtcNow.AddHours(-1);
        var profiler = StartProfiler(new ProfilerConfig { StaleAfterIntervals = 3 }, interval);
        profiler.Tell(new AttachSubsystem(Host, "engine"));
        var clock = Stopwatch.StartNew();
        profiler.Tell(At(hostClock, (MetricNames.VramUtil, 0.5)));
        Assert.Equal(hostClock, _actuators.ExpectMsg<EvaluateProfile>(Wait).Profile.At);

        var staleProfile = _actuators.ExpectMsg<EvaluateProfile>(Wait).Profile;
        Assert.True(staleProfile.Metrics[MetricNames.VramUtil].Stale);
        Assert.InRange(staleProfile.At, hostClock + interval * 3, hostClock + clock.Elapsed);

        var next = hostClock + clock.Elapsed;
        profiler.Tell(At(next, (MetricNames.VramUtil, 0.6)));
        var freshProfile = _actuators.ExpectMsg<EvaluateProfile>(Wait).Profile;
        Assert.Equal(next, freshProfile.At);
        var latest = new LatestProfile();
        Assert.True(latest.Accept(staleProfile));
        Assert.True(latest.Accept(freshProfile));
    }

    [Fact]
    public async Task Recreated_with_the_same_host_it_resumes_its_Kalman_level_and_trend_its_subsystems_and_its_rejected_count()
    {
        var config = new ProfilerConfig { SnapshotEverySamples = 1 };
        var reference = new HostProfiler(config); // the same readings, never interrupted
        var ramp = Enumerable.Range(0, 10).Select(i => (At: T0.AddSeconds(0.25 * i), Vram: 0.5 + 0.02 * i)).ToList();

        var first = StartProfiler(config);
        first.Tell(new AttachSubsystem(Host, "engine-a"));
        first.Tell(new AttachSubsystem(Host, "engine-b"));
        foreach (var (at, vram) in ramp.Take(9))
        {
            first.Tell(at == T0 ? At(at, (MetricNames.VramUtil, vram), (MetricNames.CpuUtil, double.NaN)) : At(at, (MetricNames.VramUtil, vram)));
            reference.Update(MetricNames.VramUtil, vram, at);
        }
        var beforeStop = _digest.ReceiveN(9, Wait).Cast<TelemetryPublished>().Last().Profile.Metrics[MetricNames.VramUtil];
        Assert.True(beforeStop.Trend > 0.04, $"the ramp's trend was learnt as {beforeStop.Trend}/s");
        var persistenceId = ProfilerActor.PersistenceIdFor(Host);
        await AwaitAssertAsync(async () =>
        {
            var snapshot = await LatestSnapshot(persistenceId);
            Assert.Equal(ramp[8].At, snapshot.Series[MetricNames.VramUtil].Kalman.LastAt);
        }, Wait);
        // After the last snapshot: only the journal knows these two.
        first.Tell(new DetachSubsystem(Host, "engine-b"));
        first.Tell(new AttachSubsystem(Host, "engine-c"));
        AwaitAssert(() =>
            Assert.Equal(["attach-subsystem engine-a", "attach-subsystem engine-b", "detach-subsystem engine-b", "attach-subsystem engine-c"],
                JournalEvents(persistenceId)), Wait);
        Watch(first);
        first.Tell(PoisonPill.Instance);
        ExpectTerminated(first, Wait);
        _actuators.ReceiveN(9 * 2, Wait); // the first run's profiles, to engine-a and engine-b

        var second = StartProfiler(config);
        second.Tell(At(ramp[9].At, (MetricNames.VramUtil, ramp[9].Vram)));
        reference.Update(MetricNames.VramUtil, ramp[9].Vram, ramp[9].At);

        var evaluations = _actuators.ReceiveN(2, Wait).Cast<EvaluateProfile>().ToList();
        Assert.Equal(["engine-a", "engine-c"], evaluations.Select(e => e.Subsystem).Order());
        var resumed = evaluations[0].Profile.Metrics[MetricNames.VramUtil];
        var expected = reference.Snapshot(ramp[9].At, SlowInterval)[MetricNames.VramUtil];
        // A profiler starting over would have a trend of 0 after one reading; this one continues the ramp exactly.
        Assert.Equal(expected.Estimate, resumed.Estimate, 12);
        Assert.Equal(expected.Trend, resumed.Trend, 12);
        Assert.Equal(expected.Ema, resumed.Ema, 12);
        Assert.Equal(expected.Forecast, resumed.Forecast, 12);
        Assert.True(resumed.Trend > beforeStop.Trend * 0.5, $"trend {resumed.Trend}/s after the restart, {beforeStop.Trend}/s before");
        var telemetry = _digest.ExpectMsg<TelemetryPublished>(Wait);
        Assert.Equal(1, telemetry.RejectedValues); // the NaN of the first run
        Assert.Equal(1, telemetry.SamplesProfiled); // counted since this incarnation started
    }

    [Fact]
    public async Task Handed_off_it_snapshots_its_filters_before_it_stops_so_the_next_node_continues_from_its_last_sample()
    {
        // No periodic snapshot within the spec: only the hand-off writes one.
        var config = new ProfilerConfig { SnapshotEverySamples = 1_000 };
        var reference = new HostProfiler(config);
        var ramp = Enumerable.Range(0, 10).Select(i => (At: T0.AddSeconds(0.25 * i), Vram: 0.5 + 0.02 * i)).ToList();

        var first = StartProfiler(config);
        foreach (var (at, vram) in ramp.Take(9))
        {
            first.Tell(At(at, (MetricNames.VramUtil, vram)));
            reference.Update(MetricNames.VramUtil, vram, at);
        }
        _digest.ReceiveN(9, Wait);
        Watch(first);
        first.Tell(ActuatorActor.StopWhenWritten.Instance); // what the host region sends on a rebalance or a node leaving
        ExpectTerminated(first, Wait);
        var snapshot = await LatestSnapshot(ProfilerActor.PersistenceIdFor(Host));
        Assert.Equal(ramp[8].At, snapshot.Series[MetricNames.VramUtil].Kalman.LastAt);

        var second = StartProfiler(config);
        second.Tell(At(ramp[9].At, (MetricNames.VramUtil, ramp[9].Vram)));
        reference.Update(MetricNames.VramUtil, ramp[9].Vram, ramp[9].At);
        var resumed = _digest.ExpectMsg<TelemetryPublished>(Wait).Profile.Metrics[MetricNames.VramUtil];
        var expected = reference.Snapshot(ramp[9].At, SlowInterval)[MetricNames.VramUtil];
        Assert.Equal(expected.Estimate, resumed.Estimate, 12);
        Assert.Equal(expected.Trend, resumed.Trend, 12);

        // A profiler that took no reading since it recovered has nothing newer than its snapshot: it stops at once.
        Watch(second);
        second.Tell(PoisonPill.Instance);
        ExpectTerminated(second, Wait);
        var third = StartProfiler(config);
        Watch(third);
        third.Tell(ActuatorActor.StopWhenWritten.Instance);
        ExpectTerminated(third, Wait);
    }

    [Fact]
    public async Task As_an_entity_it_is_in_the_nodes_directory_until_it_hands_off_and_profiles_what_came_straight_before_it_left()
    {
        var region = CreateTestProbe();
        var directory = LocalProfilers.Get(Sys);
        var entity = Sys.ActorOf(ProfilerActor.Props(Host, new ProfilerConfig { SnapshotEverySamples = 1_000 }, SlowInterval, region.Ref, _digest.Ref,
            actuatorsInMyShard: true));
        AwaitCondition(() => directory.Contains(Host), Wait); // entered once recovered
        // The first sample goes through the region (the probe, which delivers it); once handled, the path is straight.
        directory.Send(At(T0, (MetricNames.VramUtil, 0.5)), ActorRefs.NoSender, region.Ref);
        entity.Tell(region.ExpectMsg<Sample>(Wait));
        _digest.ExpectMsg<TelemetryPublished>(Wait);
        Assert.True(directory.IsDirect(Host));

        Watch(entity);
        // A sample the gateway sends straight (through the directory, to the entity) just before the host region's
        // hand-off stop message: it is in the mailbox ahead of the stop, as the directory's lock orders it on a node.
        directory.Send(At(T0.AddSeconds(1), (MetricNames.VramUtil, 0.6)), ActorRefs.NoSender, region.Ref);
        entity.Tell(ActuatorActor.StopWhenWritten.Instance);
        Assert.Equal(T0.AddSeconds(1), _digest.ExpectMsg<TelemetryPublished>(Wait).Profile.At);
        ExpectTerminated(entity, Wait);
        Assert.False(directory.Contains(Host));
        // ... and in the hand-off snapshot, where the shard's next home continues from it.
        Assert.Equal(T0.AddSeconds(1), (await LatestSnapshot(ProfilerActor.PersistenceIdFor(Host))).Series[MetricNames.VramUtil].Kalman.LastAt);
        directory.Send(At(T0.AddSeconds(2), (MetricNames.VramUtil, 0.7)), ActorRefs.NoSender, region.Ref);
        Assert.Equal(T0.AddSeconds(2), region.ExpectMsg<Sample>(Wait).At); // after it left: through the region
    }

    private async Task<ProfilerSnapshot> LatestSnapshot(string persistenceId)
    {
        var store = Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);
        var result = await store.Ask<LoadSnapshotResult>(
            new LoadSnapshot(persistenceId, SnapshotSelectionCriteria.Latest, long.MaxValue), Wait);
        return Assert.IsType<ProfilerSnapshot>(result.Snapshot?.Snapshot);
    }

    private List<string> JournalEvents(string persistenceId)
    {
        var journal = Persistence.Instance.Apply(Sys).JournalFor(null);
        var reader = CreateTestProbe();
        journal.Tell(new ReplayMessages(0, long.MaxValue, long.MaxValue, persistenceId, reader.Ref), reader.Ref);
        var events = new List<string>();
        while (true)
        {
            var message = reader.ReceiveOne(Wait) ?? throw new TimeoutException("the journal did not answer");
            switch (message)
            {
                case ReplayedMessage { Persistent.Payload: AttachSubsystem a }:
                    events.Add("attach-subsystem " + a.Subsystem);
                    break;
                case ReplayedMessage { Persistent.Payload: DetachSubsystem d }:
                    events.Add("detach-subsystem " + d.Subsystem);
                    break;
                case RecoverySuccess:
                    return events;
                default:
                    throw new InvalidOperationException($"unexpected {message}");
            }
        }
    }
}
