using System.Collections.Concurrent;
using System.Collections.Immutable;
using Akka.Actor;
using Akka.TestKit;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Testing;
using Xunit;

namespace Scarcity.Actors.Tests.Actuation;

/// <summary>
/// Priorities on a real node (sharded profiler and actuators, SQLite journal, serialised messages): subsystems on one
/// GPU are cut lowest priority first and recover highest first; subsystems on two GPUs of the host do not wait for each other.
/// </summary>
public sealed class PriorityPipelineSpecs : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(100);
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private const string HostName = "spec-host";
    private static readonly string Gpu0 = MetricNames.Labelled(MetricNames.VramUtil, "gpu", "0");
    private static readonly string Gpu1 = MetricNames.Labelled(MetricNames.VramUtil, "gpu", "1");
    private GovernorHost? _host;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_host is null) return;
        await _host.DisposeAsync();
        _host.DeleteDatabase();
    }

    private async Task<(GovernorHost Host, Akka.TestKit.Xunit2.TestKit Kit)> Start(Dictionary<string, string> resources)
    {
        var config = GovernorHost.SpecConfig();
        config.Policy.Policies["*"] = [new PolicyRule(MetricNames.VramUtil, 0.85, ActionNames.ReduceBatch, 0.5) { Signal = SignalKind.Raw, Release = 0.8 }];
        config.Policy.Cooldown = TimeSpan.FromSeconds(1);
        config.Policy.RecoveryDelay = TimeSpan.FromSeconds(1);
        config.Policy.RecoveryInterval = TimeSpan.FromSeconds(1);
        config.Policy.RecoveryStep = 0.3;
        config.Policy.IneffectiveAfterCuts = 0;
        // Long, so that only a lower priority at its floor lets a higher one be cut, however late the states travel here.
        config.Policy.Priorities.HoldTime = TimeSpan.FromMinutes(10);
        config.Policy.Priorities.Resources = resources;
        _host = await GovernorHost.StartAsync(config);
        return (_host, new Akka.TestKit.Xunit2.TestKit(_host.System));
    }

    /// <summary>A subsystem that applies and acknowledges every Throttle and keeps them, by sequence.</summary>
    private sealed class Engine
    {
        public readonly ConcurrentDictionary<long, Throttle> Throttles = new();
        public TestProbe Probe { get; }
        public string Name { get; }

        public Engine(Akka.TestKit.Xunit2.TestKit kit, string name)
        {
            Name = name;
            Probe = kit.CreateTestProbe(name);
            var self = Probe.Ref;
            Probe.SetAutoPilot(new DelegateAutoPilot((sender, message) =>
            {
                if (message is Throttle t)
                {
                    Throttles.TryAdd(t.Sequence, t);
                    sender.Tell(new ThrottleAck(name, t.Sequence, true, "applied"), self);
                }
                return AutoPilot.KeepRunning;
            }));
        }

        public double Level => Throttles.IsEmpty ? 1 : Throttles.MaxBy(t => t.Key).Value.Level;
        public IReadOnlyList<Throttle> InOrder => [.. Throttles.OrderBy(t => t.Key).Select(t => t.Value)];
    }

    private static async Task<Engine> Register(GovernorHost host, Akka.TestKit.Xunit2.TestKit kit, string name, int priority)
    {
        var engine = new Engine(kit, name);
        host.Policy.Tell(new RegisterSubsystem(name, HostName, priority, [ActionNames.ReduceBatch], engine.Probe.Ref), engine.Probe.Ref);
        var reply = await engine.Probe.ExpectMsgAsync<SubsystemRegistered>(Wait);
        Assert.Equal(name, reply.Name);
        return engine;
    }

    /// <summary>Sends one sample per second of profile time, paced, until <paramref name="done"/> (or the wait runs out).</summary>
    private static async Task<double> Drive(GovernorHost host, double from, Func<double, (string Series, double Value)[]> values, Func<bool> done)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        var t = from;
        while (!done())
        {
            Assert.True(DateTime.UtcNow < deadline, $"not settled by profile time {t} s");
            host.Profilers.Tell(new Sample(HostName, T0.AddSeconds(t), [.. values(t).Select(v => new MetricValue(v.Series, v.Value))], []));
            t += 1;
            await Task.Delay(Pace);
        }
        return t;
    }

    /// <summary>
    /// Calm samples for two seconds: the actuators' states, sent at registration, have reached one another through the
    /// profiler by then (a subsystem that registers into pressure is cut before it knows its peers, as it would be alone).
    /// </summary>
    private static Task<double> Calm(GovernorHost host, params string[] series)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(2);
        return Drive(host, 0, _ => [.. series.Select(s => (s, 0.5))], () => DateTime.UtcNow > until);
    }

    private static DateTimeOffset FirstTo(Engine engine, Func<Throttle, bool> match) => engine.InOrder.First(match).IssuedAt;

    [Fact]
    public async Task Three_subsystems_on_one_GPU_are_cut_lowest_priority_first_and_recover_highest_first()
    {
        var resources = new Dictionary<string, string> { ["trainer"] = "gpu=0", ["indexer"] = "gpu=0", ["inference"] = "gpu=0" };
        var (host, kit) = await Start(resources);
        var trainer = await Register(host, kit, "trainer", 1);
        var indexer = await Register(host, kit, "indexer", 5);
        var inference = await Register(host, kit, "inference", 9);
        var all = new[] { trainer, indexer, inference };

        // Rising pressure on GPU 0 (the host's worst-GPU series says the same), until every engine is at its floor.
        var calm = await Calm(host, Gpu0, MetricNames.VramUtil);
        var t = await Drive(host, calm, s => [(Gpu0, Math.Min(0.99, 0.6 + 0.05 * (s - calm))), (MetricNames.VramUtil, Math.Min(0.99, 0.6 + 0.05 * (s - calm)))],
            () => all.All(e => Math.Abs(e.Level - 0.1) < 1e-9));

        var trainerFloor = FirstTo(trainer, x => Math.Abs(x.Level - 0.1) < 1e-9);
        var indexerFirst = indexer.InOrder[0];
        Assert.True(indexerFirst.IssuedAt > trainerFloor, $"indexer cut at {indexerFirst.IssuedAt:mm:ss}, trainer at its floor only at {trainerFloor:mm:ss}");
        Assert.Contains("taken: lower-priority trainer at the floor or ineffective on reduce_batch", indexerFirst.Reason.Rule);
        var indexerFloor = FirstTo(indexer, x => Math.Abs(x.Level - 0.1) < 1e-9);
        var inferenceFirst = inference.InOrder[0];
        Assert.True(inferenceFirst.IssuedAt > indexerFloor, $"inference cut at {inferenceFirst.IssuedAt:mm:ss}, indexer at its floor only at {indexerFloor:mm:ss}");
        Assert.Contains("taken: lower-priority trainer, indexer at the floor or ineffective on reduce_batch", inferenceFirst.Reason.Rule);
        Assert.True(trainer.InOrder[0].IssuedAt < indexerFirst.IssuedAt);

        // While it was held, the inference engine's status said by whom.
        var cuts = all.ToDictionary(e => e.Name, e => e.Throttles.Count);

        // The pressure goes: recovery, highest priority first.
        var recoveredFrom = T0.AddSeconds(t);
        await Drive(host, t, _ => [(Gpu0, 0.5), (MetricNames.VramUtil, 0.5)], () => all.All(e => e.Level >= 1));

        var inferenceBack = FirstTo(inference, x => x.IssuedAt >= recoveredFrom && x.Level >= 1);
        var indexerUp = FirstTo(indexer, x => x.IssuedAt >= recoveredFrom && x.Level > 0.1);
        Assert.True(indexerUp > inferenceBack, $"indexer recovered from {indexerUp:mm:ss}, inference back to 1 only at {inferenceBack:mm:ss}");
        var indexerBack = FirstTo(indexer, x => x.IssuedAt >= recoveredFrom && x.Level >= 1);
        var trainerUp = FirstTo(trainer, x => x.IssuedAt >= recoveredFrom && x.Level > 0.1);
        Assert.True(trainerUp > indexerBack, $"trainer recovered from {trainerUp:mm:ss}, indexer back to 1 only at {indexerBack:mm:ss}");
        Assert.All(all, e => Assert.True(e.Throttles.Count > cuts[e.Name]));
    }

    [Fact]
    public async Task A_higher_priority_held_by_a_lower_one_shows_the_hold_in_its_status_and_on_the_decisions_topic()
    {
        var (host, kit) = await Start(new Dictionary<string, string>());
        var trainer = await Register(host, kit, "trainer", 1);
        var inference = await Register(host, kit, "inference", 9);
        var signals = kit.CreateTestProbe();
        Akka.Cluster.Tools.PublishSubscribe.DistributedPubSub.Get(host.System).Mediator.Tell(
            new Akka.Cluster.Tools.PublishSubscribe.Subscribe(Topics.Decisions, signals.Ref), signals.Ref);
        signals.ExpectMsg<Akka.Cluster.Tools.PublishSubscribe.SubscribeAck>(Wait);

        await Drive(host, await Calm(host, MetricNames.VramUtil), _ => [(MetricNames.VramUtil, 0.95)], () => trainer.Throttles.Count >= 2);

        var notice = signals.FishForMessage<Decision>(d => d.Subsystem == "inference", Wait);
        Assert.False(notice.Sent);
        Assert.StartsWith("held: lower-priority trainer (priority 1, reduce_batch at ", notice.Reason.Rule);
        Assert.Equal(1.0, notice.Level);
        await kit.AwaitAssertAsync(async () =>
        {
            var status = await host.Policy.Ask<SubsystemStatus>(new GetSubsystemStatus("inference"), Wait);
            Assert.Contains(status.Skipped, s => s.StartsWith("reduce_batch: held: lower-priority trainer", StringComparison.Ordinal));
        }, Wait);
        Assert.Empty(inference.Throttles);
    }

    [Fact]
    public async Task Two_subsystems_on_different_GPUs_of_one_host_do_not_hold_each_other()
    {
        var (host, kit) = await Start(new Dictionary<string, string> { ["trainer"] = "gpu=0", ["inference"] = "gpu=1" });
        var trainer = await Register(host, kit, "trainer", 1);
        var inference = await Register(host, kit, "inference", 9);

        // Both GPUs full: each engine is cut at the first sample, the high priority one without waiting for the low one.
        await Drive(host, 0, _ => [(Gpu0, 0.95), (Gpu1, 0.95), (MetricNames.VramUtil, 0.95)],
            () => !trainer.Throttles.IsEmpty && !inference.Throttles.IsEmpty);

        Assert.Equal(T0, trainer.InOrder[0].IssuedAt);
        Assert.Equal(T0, inference.InOrder[0].IssuedAt);
        Assert.Equal(Gpu1, inference.InOrder[0].Reason.Metric);
        Assert.DoesNotContain("taken", inference.InOrder[0].Reason.Rule);
    }
}
