using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.TestKit;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Sensing;
using Scarcity.Actors.Testing;
using Xunit;

namespace Scarcity.Actors.Tests.Actuation;

/// <summary>The pipeline end to end on a real node: sensor, profiler, policy, actuator, SQLite journal, pub-sub.</summary>
public sealed class GovernorPipelineSpecs : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly List<GovernorHost> _hosts = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var h in _hosts)
        {
            await h.DisposeAsync();
            h.DeleteDatabase();
        }
    }

    private async Task<(GovernorHost Host, Akka.TestKit.Xunit2.TestKit Kit)> Start(
        Action<Scarcity.Actors.Configuration.DRGConfig>? configure = null, Func<ActorSystem, ISensorSource>? source = null, string? db = null)
    {
        var config = GovernorHost.SpecConfig(db);
        configure?.Invoke(config);
        var host = await GovernorHost.StartAsync(config, source);
        _hosts.Add(host);
        return (host, new Akka.TestKit.Xunit2.TestKit(host.System));
    }

    private static Sample VramSample(double vram, double seconds) =>
        new("spec-host", T0.AddSeconds(seconds), [new MetricValue(MetricNames.VramUtil, vram)], []);

    private static RegisterSubsystem Register(IActorRef actor, string name = "engine", params string[] actions) =>
        new(name, "spec-host", 5, actions.Length == 0 ? [ActionNames.ReduceBatch, ActionNames.Throttle, ActionNames.ShedLoad] : [.. actions], actor);

    private static Action<Scarcity.Actors.Configuration.DRGConfig> RawVramRule(double cooldownSeconds = 5) => c =>
    {
        c.Policy.Policies["*"] = [new PolicyRule(MetricNames.VramUtil, 0.85, ActionNames.ReduceBatch, 0.5) { Signal = SignalKind.Raw }];
        c.Policy.Cooldown = TimeSpan.FromSeconds(cooldownSeconds);
        c.Policy.RecoveryDelay = TimeSpan.Zero;
    };

    [Fact]
    public async Task A_trace_step_is_acted_on_at_the_first_sample_after_it_and_the_subsystem_gets_a_Throttle()
    {
        var (host, kit) = await Start();
        var engine = kit.CreateTestProbe();
        host.Policy.Tell(Register(engine.Ref), engine.Ref);
        engine.ExpectMsg<SubsystemRegistered>(Wait);

        using var trace = new TraceSensorSource(Path.Combine(AppContext.BaseDirectory, "Traces", "vram-step.csv"));
        var buffer = new MetricBuffer();
        while (trace.HasMore)
        {
            var at = T0 + trace.NextOffset;
            buffer.Clear();
            trace.Sample(buffer, at);
            host.Profilers.Tell(new Sample("spec-host", at, [.. buffer.Values], []));
        }

        var throttle = engine.ExpectMsg<Throttle>(Wait);
        Assert.Equal(ActionNames.ReduceBatch, throttle.Action);
        Assert.Equal(0.5, throttle.Level);
        Assert.Equal(1, throttle.Sequence);
        Assert.Equal(T0.AddSeconds(2.0), throttle.IssuedAt); // the first sample after the step
        Assert.Contains("vram_util forecast > 0.85", throttle.Reason.Rule);
        // The decision log follows drg.decisions: the decision reaches it just after the Throttle leaves.
        await kit.AwaitAssertAsync(async () =>
        {
            var decisions = await host.DecisionLog.Ask<RecentDecisions>(new GetRecentDecisions(10), Wait);
            Assert.NotEmpty(decisions.Decisions);
            Assert.Equal(throttle.Sequence, decisions.Decisions[0].Sequence); // oldest first
        }, Wait);
    }

    [Fact]
    public async Task When_the_hosts_clock_steps_back_the_reading_after_the_step_is_acted_on()
    {
        // Field case clock-steps-back through the actors: vram 0.50 for 10 s, then the clock steps back 30 s and vram
        // reads 0.97. The profiles after the step are older than the last one the actuator evaluated; it must not drop them.
        var (host, kit) = await Start(RawVramRule());
        var engine = kit.CreateTestProbe();
        host.Policy.Tell(Register(engine.Ref), engine.Ref);
        engine.ExpectMsg<SubsystemRegistered>(Wait);
        for (var i = 0; i < 40; i++) host.Profilers.Tell(VramSample(0.50, i * 0.25));
        for (var i = 0; i < 8; i++) host.Profilers.Tell(VramSample(0.97, -20 + i * 0.25));

        var throttle = engine.ExpectMsg<Throttle>(Wait);
        Assert.Equal((ActionNames.ReduceBatch, 0.5), (throttle.Action, throttle.Level));
        Assert.Equal(T0.AddSeconds(-20), throttle.IssuedAt);
    }

    [Fact]
    public async Task The_sensor_replays_a_trace_at_its_own_timestamps_at_4_Hz()
    {
        var (host, kit) = await Start();
        var profiler = kit.CreateTestProbe();
        var trace = Path.Combine(AppContext.BaseDirectory, "Traces", "vram-step.csv");
        host.System.ActorOf(SensorActor.Props("traced", new TraceSensorSource(trace), TimeSpan.FromMilliseconds(250), profiler.Ref));

        var samples = Enumerable.Range(0, 5).Select(_ => profiler.ExpectMsg<Sample>(Wait)).ToList();

        Assert.All(samples, s => Assert.Equal("traced", s.Host));
        Assert.Equal([0, 250, 500, 750, 1000], samples.Select(s => (int)Math.Round((s.At - samples[0].At).TotalMilliseconds)));
        Assert.All(samples, s => Assert.Contains(s.Values, v => v.Metric == MetricNames.VramUtil && v.Value == 0.5));
    }

    [Fact]
    public async Task A_Throttle_is_retried_until_acknowledged_and_a_superseded_one_is_dropped()
    {
        var (host, kit) = await Start(c =>
        {
            RawVramRule(cooldownSeconds: 0.2)(c);
            c.Actuator.AckTimeout = TimeSpan.FromMilliseconds(300);
        });
        var engine = kit.CreateTestProbe();
        host.Policy.Tell(Register(engine.Ref), engine.Ref);
        engine.ExpectMsg<SubsystemRegistered>(Wait);

        host.Profilers.Tell(VramSample(0.95, 0));
        var first = engine.ExpectMsg<Throttle>(Wait);
        var retried = engine.ExpectMsg<Throttle>(Wait);           // no ack: the same Throttle again
        Assert.Equal(first, retried);

        host.Profilers.Tell(VramSample(0.95, 1));                  // a newer level supersedes it
        var second = engine.FishForMessage<Throttle>(t => t.Sequence == 2, Wait);
        engine.Reply(new ThrottleAck("engine", second.Sequence, true, "applied"));
        engine.ExpectNoMsg(TimeSpan.FromSeconds(1.5));             // acked: nothing is retried, seq 1 is not resent

        var status = await host.Policy.Ask<SubsystemStatus>(new GetSubsystemStatus("engine"), Wait);
        Assert.Equal(2, status.LastAckedSequence);
        Assert.Equal(0.25, status.Levels[ActionNames.ReduceBatch]);
    }

    [Fact]
    public async Task A_subsystem_that_dies_is_marked_down_and_gets_the_current_levels_when_it_registers_again()
    {
        var (host, kit) = await Start(RawVramRule());
        var engine = kit.CreateTestProbe();
        host.Policy.Tell(Register(engine.Ref), engine.Ref);
        engine.ExpectMsg<SubsystemRegistered>(Wait);
        host.Profilers.Tell(VramSample(0.95, 0));
        var t = engine.ExpectMsg<Throttle>(Wait);
        engine.Reply(new ThrottleAck("engine", t.Sequence, true, "applied"));

        kit.Watch(engine.Ref);
        engine.Ref.Tell(PoisonPill.Instance);
        kit.ExpectTerminated(engine.Ref, Wait);
        await kit.AwaitAssertAsync(async () =>
            Assert.False((await host.Policy.Ask<SubsystemStatus>(new GetSubsystemStatus("engine"), Wait)).Reachable), Wait);

        var reborn = kit.CreateTestProbe();
        host.Policy.Tell(Register(reborn.Ref), reborn.Ref);
        var registered = reborn.ExpectMsg<SubsystemRegistered>(Wait);
        Assert.Equal(0.5, registered.Levels[ActionNames.ReduceBatch]);
        Assert.Equal(1.0, registered.Levels[ActionNames.Throttle]);
        Assert.Equal(1, registered.LastSequence);
    }

    [Fact]
    public async Task A_subsystem_that_throws_or_never_acks_does_not_stall_another()
    {
        var (host, kit) = await Start(RawVramRule());
        var broken = host.System.ActorOf(Props.Create(() => new ThrowingSubsystem()), "broken");
        var healthy = kit.CreateTestProbe();
        host.Policy.Tell(Register(broken, "broken"), broken);
        host.Policy.Tell(Register(healthy.Ref, "healthy"), healthy.Ref);
        healthy.ExpectMsg<SubsystemRegistered>(Wait);

        for (var i = 0; i < 3; i++) host.Profilers.Tell(VramSample(0.95, i * 6));

        var throttles = new[] { healthy.FishForMessage<Throttle>(t => t.Sequence == 1, Wait), healthy.FishForMessage<Throttle>(t => t.Sequence == 2, Wait) };
        Assert.Equal([0.5, 0.25], throttles.Select(t => t.Level));
    }

    [Fact]
    public async Task A_Throttle_for_an_undeclared_action_is_not_sent_and_the_decision_log_says_so()
    {
        var (host, kit) = await Start(RawVramRule());
        var engine = kit.CreateTestProbe();
        host.Policy.Tell(Register(engine.Ref, "engine", ActionNames.ShedLoad), engine.Ref);
        engine.ExpectMsg<SubsystemRegistered>(Wait);

        host.Profilers.Tell(VramSample(0.95, 0));

        await kit.AwaitAssertAsync(async () =>
        {
            var log = await host.DecisionLog.Ask<RecentDecisions>(new GetRecentDecisions(10, "engine"), Wait);
            var d = Assert.Single(log.Decisions);
            Assert.False(d.Sent);
            Assert.Contains("did not declare action 'reduce_batch'", d.Detail);
        }, Wait);
        engine.ExpectNoMsg(TimeSpan.FromMilliseconds(500));
    }

    [Fact]
    public async Task Decisions_are_persisted_in_SQLite_and_survive_a_restart_with_levels_and_sequence()
    {
        var db = Path.Combine(Path.GetTempPath(), $"scarcity-restart-{Guid.NewGuid():N}.db");
        var (first, kit) = await Start(c =>
        {
            RawVramRule()(c);
            c.Actuator.SnapshotEvery = 1;
        }, db: db);
        var engine = kit.CreateTestProbe();
        first.Policy.Tell(Register(engine.Ref), engine.Ref);
        engine.ExpectMsg<SubsystemRegistered>(Wait);
        first.Profilers.Tell(VramSample(0.95, 0));
        var t = engine.ExpectMsg<Throttle>(Wait);
        await kit.AwaitAssertAsync(() =>
        {
            Assert.Equal(1, first.CountRows("journal", "manifest = 'decision.v1'"));
            Assert.Equal(1, first.CountRows("snapshot", "persistence_id = 'actuator-engine'"));
        }, Wait);
        await first.DisposeAsync();
        _hosts.Remove(first);

        var (second, kit2) = await Start(RawVramRule(), db: db);
        var again = kit2.CreateTestProbe();
        var registered = await RegisterAgainAsync(second, kit2, again);
        Assert.Equal(0.5, registered.Levels[ActionNames.ReduceBatch]);
        Assert.Equal(1, registered.LastSequence);

        var log = await second.DecisionLog.Ask<RecentDecisions>(new GetRecentDecisions(10), Wait);
        var persisted = Assert.Single(log.Decisions);
        Assert.Equal(t.Sequence, persisted.Sequence);
        Assert.Equal(0.5, persisted.Level);
        Assert.True(persisted.Inputs.ContainsKey("vram_util:raw"));
        second.Profilers.Tell(VramSample(0.95, 10));
        Assert.Equal(2, again.ExpectMsg<Throttle>(Wait).Sequence);
    }

    // As a client does after a restart: the recovered actuator presumes its previous holder (an actor of the stopped system)
    // alive, rejects the first attempt and probes the holder; once the probe finds it gone, the next attempt takes over.
    private static async Task<SubsystemRegistered> RegisterAgainAsync(GovernorHost host, Akka.TestKit.Xunit2.TestKit kit, TestProbe holder)
    {
        SubsystemRegistered? registered = null;
        await kit.AwaitAssertAsync(() =>
        {
            host.Policy.Tell(Register(holder.Ref), holder.Ref);
            registered = Assert.IsType<SubsystemRegistered>(holder.ExpectMsg<object>(Wait));
        }, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1));
        return registered!;
    }

    [Fact]
    public async Task Decision_rows_of_the_previous_release_recover_and_the_decision_journal_reads_them_beside_the_rows_written_now()
    {
        var db = Path.Combine(Path.GetTempPath(), $"scarcity-decision-rows-{Guid.NewGuid():N}.db");
        var (first, kit) = await Start(RawVramRule(), db: db);
        var engine = kit.CreateTestProbe();
        first.Policy.Tell(Register(engine.Ref), engine.Ref);
        engine.ExpectMsg<SubsystemRegistered>(Wait);
        first.Profilers.Tell(VramSample(0.95, 0));
        var throttle = engine.ExpectMsg<Throttle>(Wait);
        // Published in binary, journaled as the JSON decision.v1 of every release.
        await kit.AwaitAssertAsync(() => Assert.Equal(1, first.CountRows("journal", "manifest = 'decision.v1'")), Wait);
        Assert.Equal(0, first.CountRows("journal", "manifest LIKE '%.b1' OR manifest LIKE '%.b2'"));
        await first.DisposeAsync();
        _hosts.Remove(first);
        // The next decision as the previous release journaled it: its JSON, written before dry-run existed.
        AppendJournalRowLike(db, "actuator-engine", "decision.v1", """
            {"subsystem":"engine","host":"spec-host","action":"reduce_batch","previousLevel":0.5,"level":0.25,"sequence":2,
             "reason":{"rule":"an older rule","metric":"vram_util","signal":"raw","value":0.97,"forecast":0.97,"threshold":0.85},
             "at":"2026-01-01T00:00:10+00:00","inputs":{"vram_util:raw":0.97},"sent":true,"detail":""}
            """u8.ToArray());

        var (second, kit2) = await Start(RawVramRule(), db: db);
        var again = kit2.CreateTestProbe();
        var registered = await RegisterAgainAsync(second, kit2, again);
        var read = await new Scarcity.Actors.Operations.DecisionJournal(second.Config.Persistence, second.System.Serialization)
            .ReadAsync(new GetDecisions(null, "engine", 10));

        Assert.Equal((0.25, 2L), (registered.Levels[ActionNames.ReduceBatch], registered.LastSequence)); // recovered from the old row
        Assert.Equal([1L, 2L], read.Select(j => j.Decision.Sequence));
        Assert.Equal((throttle.Level, throttle.Reason.Rule, true), (read[0].Decision.Level, read[0].Decision.Reason.Rule, read[0].Decision.Inputs.ContainsKey("vram_util:raw")));
        Assert.Equal((0.25, "an older rule", false), (read[1].Decision.Level, read[1].Decision.Reason.Rule, read[1].Decision.Dry));
        Assert.All(read, j => Assert.Equal("actuator-engine", j.PersistenceId));
    }

    // A journal row after the newest of `persistenceId` with `manifest`, its other columns copied from that row.
    private static void AppendJournalRowLike(string db, string persistenceId, string manifest, byte[] message)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={db};Pooling=False");
        connection.Open();
        var columns = new List<string>();
        using (var info = connection.CreateCommand())
        {
            info.CommandText = "PRAGMA table_info(journal)";
            using var reader = info.ExecuteReader();
            while (reader.Read()) columns.Add(reader.GetString(1));
        }
        var copied = string.Join(", ", columns.Where(c => c is not ("ordering" or "sequence_number" or "message")));
        using var insert = connection.CreateCommand();
        insert.CommandText = $"""
            INSERT INTO journal (sequence_number, message, {copied})
            SELECT (SELECT MAX(sequence_number) FROM journal WHERE persistence_id = @pid) + 1, @message, {copied}
            FROM journal WHERE persistence_id = @pid AND manifest = @manifest ORDER BY sequence_number DESC LIMIT 1
            """;
        insert.Parameters.AddWithValue("@pid", persistenceId);
        insert.Parameters.AddWithValue("@manifest", manifest);
        insert.Parameters.AddWithValue("@message", message);
        Assert.Equal(1, insert.ExecuteNonQuery());
    }

    [Fact]
    public async Task A_hosts_Kalman_level_and_trend_continue_after_a_restart_instead_of_starting_over()
    {
        var db = Path.Combine(Path.GetTempPath(), $"scarcity-kalman-{Guid.NewGuid():N}.db");
        var (first, kit) = await Start(c => c.Profiler.SnapshotEverySamples = 4, db: db);
        var telemetry = kit.CreateTestProbe();
        DistributedPubSub.Get(first.System).Mediator.Tell(new Subscribe(Topics.Telemetry, telemetry.Ref), telemetry.Ref);
        telemetry.ExpectMsg<SubscribeAck>(Wait);
        for (var i = 0; i < 32; i++) first.Profilers.Tell(VramSample(0.30 + 0.04 * i * 0.25, i * 0.25));
        var before = telemetry.FishForMessage<TelemetryPublished>(t => t.Profile.At == T0.AddSeconds(7.75), Wait).Profile.Metrics[MetricNames.VramUtil];
        Assert.InRange(before.Trend, 0.035, 0.045);
        await kit.AwaitAssertAsync(() => Assert.True(first.CountRows("snapshot", "persistence_id = 'profiler-spec-host'") >= 1), Wait);
        await first.DisposeAsync();
        _hosts.Remove(first);

        var (second, kit2) = await Start(c => c.Profiler.SnapshotEverySamples = 4, db: db);
        var telemetry2 = kit2.CreateTestProbe();
        DistributedPubSub.Get(second.System).Mediator.Tell(new Subscribe(Topics.Telemetry, telemetry2.Ref), telemetry2.Ref);
        telemetry2.ExpectMsg<SubscribeAck>(Wait);
        second.Profilers.Tell(VramSample(0.30 + 0.04 * 8.0, 8.0));

        var after = telemetry2.FishForMessage<TelemetryPublished>(_ => true, Wait).Profile.Metrics[MetricNames.VramUtil];
        Assert.InRange(after.Trend, 0.03, 0.05);   // a fresh filter would start at trend 0
        Assert.InRange(after.Estimate, 0.61, 0.63);
    }

    [Fact]
    public async Task Telemetry_and_decisions_are_published_and_non_finite_readings_are_rejected_and_counted()
    {
        var (host, kit) = await Start(RawVramRule());
        // one probe per topic: each topic has its own actor in the mediator, so no order holds across topics
        var subscriber = kit.CreateTestProbe();
        var signals = kit.CreateTestProbe();
        var mediator = DistributedPubSub.Get(host.System).Mediator;
        mediator.Tell(new Subscribe(Topics.Telemetry, subscriber.Ref), subscriber.Ref);
        mediator.Tell(new Subscribe(Topics.Signal(ActionNames.ReduceBatch), signals.Ref), signals.Ref);
        subscriber.ExpectMsg<SubscribeAck>(Wait);
        signals.ExpectMsg<SubscribeAck>(Wait);
        var engine = kit.CreateTestProbe();
        host.Policy.Tell(Register(engine.Ref), engine.Ref);
        engine.ExpectMsg<SubsystemRegistered>(Wait);

        host.Profilers.Tell(new Sample("spec-host", T0, [new(MetricNames.VramUtil, double.NaN), new(MetricNames.CpuUtil, double.PositiveInfinity)], []));
        var rejected = subscriber.FishForMessage<TelemetryPublished>(_ => true, Wait);
        Assert.Equal(2, rejected.RejectedValues);
        Assert.Empty(rejected.Profile.Metrics);

        host.Profilers.Tell(VramSample(0.95, 1));
        var telemetry = subscriber.FishForMessage<TelemetryPublished>(t => t.Profile.Metrics.ContainsKey(MetricNames.VramUtil), Wait);
        Assert.Equal(PressureLevel.Red, telemetry.Profile.Pressure);
        var decision = signals.ExpectMsg<Decision>(Wait);
        Assert.Equal(0.5, decision.Level);
        engine.ExpectMsg<Throttle>(Wait);
    }

    [Fact]
    public async Task A_host_whose_samples_stop_turns_stale_levels_hold_and_a_fresh_sample_clears_it()
    {
        var (host, kit) = await Start(RawVramRule());
        var subscriber = kit.CreateTestProbe();
        DistributedPubSub.Get(host.System).Mediator.Tell(new Subscribe(Topics.NodeStale, subscriber.Ref), subscriber.Ref);
        subscriber.ExpectMsg<SubscribeAck>(Wait);
        var engine = kit.CreateTestProbe();
        host.Policy.Tell(Register(engine.Ref), engine.Ref);
        engine.ExpectMsg<SubsystemRegistered>(Wait);
        host.Profilers.Tell(VramSample(0.95, 0));
        engine.ExpectMsg<Throttle>(Wait);

        var stale = subscriber.ExpectMsg<NodeStale>(Wait);
        Assert.True(stale.Stale);
        Assert.Equal("spec-host", stale.Host);
        var status = await host.Policy.Ask<SubsystemStatus>(new GetSubsystemStatus("engine"), Wait);
        Assert.Contains(status.Skipped, s => s.Contains("is stale"));
        Assert.Equal(0.5, status.Levels[ActionNames.ReduceBatch]);

        host.Profilers.Tell(VramSample(0.5, 30));
        Assert.False(subscriber.ExpectMsg<NodeStale>(Wait).Stale);
    }

    [Fact]
    public async Task A_registration_with_an_empty_name_is_rejected_with_a_reason()
    {
        var (host, kit) = await Start();
        var engine = kit.CreateTestProbe();

        host.Policy.Tell(new RegisterSubsystem("", "spec-host", 1, [ActionNames.Throttle], engine.Ref), engine.Ref);

        Assert.Equal("the subsystem name is empty", engine.ExpectMsg<RegistrationRejected>(Wait).Reason);
    }

    [Fact]
    public async Task A_second_live_registration_of_a_name_is_rejected_and_the_first_keeps_being_governed()
    {
        var (host, kit) = await Start(RawVramRule());
        var first = kit.CreateTestProbe();
        var impostor = kit.CreateTestProbe();
        host.Policy.Tell(Register(first.Ref), first.Ref);
        first.ExpectMsg<SubsystemRegistered>(Wait);

        host.Policy.Tell(Register(impostor.Ref), impostor.Ref);

        Assert.Contains("already registered", impostor.ExpectMsg<RegistrationRejected>(Wait).Reason);
        host.Profilers.Tell(VramSample(0.95, 0));
        Assert.Equal(0.5, first.ExpectMsg<Throttle>(Wait).Level);
        impostor.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task A_rejected_duplicates_reports_do_not_move_the_holders_metrics_and_count_as_rejected_readings()
    {
        var (host, kit) = await Start(RawVramRule());
        var telemetry = kit.CreateTestProbe();
        DistributedPubSub.Get(host.System).Mediator.Tell(new Subscribe(Topics.Telemetry, telemetry.Ref), telemetry.Ref);
        telemetry.ExpectMsg<SubscribeAck>(Wait);
        var holder = kit.CreateTestProbe();
        var duplicate = kit.CreateTestProbe();
        host.Policy.Tell(Register(holder.Ref), holder.Ref);
        holder.ExpectMsg<SubsystemRegistered>(Wait);
        host.Policy.Tell(Register(duplicate.Ref), duplicate.Ref);
        duplicate.ExpectMsg<RegistrationRejected>(Wait);

        host.Profilers.Tell(new ReportMetrics("engine", "spec-host", ImmutableDictionary<string, double>.Empty.Add(MetricNames.LatencyMs, 100),
            T0.AddSeconds(0.1), holder.Ref));
        host.Profilers.Tell(new ReportMetrics("engine", "spec-host", ImmutableDictionary<string, double>.Empty.Add(MetricNames.LatencyMs, 900),
            T0.AddSeconds(0.2), duplicate.Ref));
        host.Profilers.Tell(VramSample(0.5, 1));

        var published = telemetry.FishForMessage<TelemetryPublished>(t => t.Profile.At == T0.AddSeconds(1), Wait);
        var latency = published.Profile.Metrics["latency_ms{subsystem=\"engine\"}"];
        Assert.Equal((100.0, 100.0, T0.AddSeconds(0.1)), (latency.Raw, latency.Ema, latency.UpdatedAt));
        Assert.Equal(1, published.RejectedValues);
    }

    [Fact]
    public async Task A_registration_held_by_an_actor_that_no_longer_answers_is_taken_over_by_a_later_attempt()
    {
        var (host, kit) = await Start(RawVramRule());
        // the holder: an actor of a process that is gone (nothing listens on that address)
        var ghost = ((ExtendedActorSystem)host.System).Provider.ResolveActorRef("akka.tcp://scarcity@127.0.0.1:9/user/engine");
        host.Policy.Tell(Register(ghost));
        var restarted = kit.CreateTestProbe();

        // the restarted subsystem retries as the client does; the holder is found gone (by DeathWatch, or sooner by
        // the actuator's Identify probe after a rejection) and a retry is accepted with the current levels
        await kit.AwaitAssertAsync(() =>
        {
            host.Policy.Tell(Register(restarted.Ref), restarted.Ref);
            restarted.FishForMessage(m => m is SubsystemRegistered, TimeSpan.FromSeconds(1));
        }, Wait, TimeSpan.FromSeconds(1));
        var status = await host.Policy.Ask<SubsystemStatus>(new GetSubsystemStatus("engine"), Wait);
        Assert.True(status.Reachable);
    }

    private sealed class ThrowingSubsystem : ReceiveActor
    {
        public ThrowingSubsystem()
        {
            Receive<SubsystemRegistered>(_ => { });
            Receive<Throttle>(_ => throw new InvalidOperationException("the engine's handler failed"));
        }
    }
}
