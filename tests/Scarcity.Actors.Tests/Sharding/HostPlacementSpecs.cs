using Akka.Actor;
using Scarcity.Actors.Actuation;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Metrics;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Sharding;
using Scarcity.Actors.Testing;
using Xunit;

namespace Scarcity.Actors.Tests.Sharding;

/// <summary>
/// Issue 15 on a real node (SQLite journal): actuators are entities of their host's shard, next to its profiler. A
/// subsystem that registers on another host takes its state along with no second writer of its journal, and a journal
/// written before the host region (an actuator keyed by its subsystem alone) still recovers.
/// </summary>
public sealed class HostPlacementSpecs : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private GovernorHost _host = null!;
    private Akka.TestKit.Xunit2.TestKit _kit = null!;

    public async Task InitializeAsync()
    {
        var config = GovernorHost.SpecConfig();
        config.Policy.Policies["*"] = [new PolicyRule(MetricNames.VramUtil, 0.85, ActionNames.ReduceBatch, 0.5) { Signal = SignalKind.Raw }];
        config.Policy.Cooldown = TimeSpan.FromSeconds(5);
        config.Policy.IneffectiveAfterCuts = 0;
        _host = await GovernorHost.StartAsync(config);
        _kit = new Akka.TestKit.Xunit2.TestKit(_host.System);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _host.DeleteDatabase();
    }

    private static Sample VramSample(string host, double vram, double seconds) =>
        new(host, T0.AddSeconds(seconds), [new MetricValue(MetricNames.VramUtil, vram)], []);

    private static RegisterSubsystem Register(string host, IActorRef actor) => new("engine", host, 5, [ActionNames.ReduceBatch], actor);

    [Fact]
    public void Entity_ids_put_a_hosts_profiler_and_its_actuators_in_one_shard()
    {
        var extractor = new GovernorEntities.HostEntityExtractor();
        var profile = new HostProfile("gpu|07", T0, PressureLevel.Green, System.Collections.Immutable.ImmutableDictionary<string, MetricEstimate>.Empty);
        Assert.Equal("p|gpu|07", extractor.EntityId(VramSample("gpu|07", 0.5, 0)));
        Assert.Equal("a|gpu|07|engine", extractor.EntityId(new EvaluateProfile("engine", profile)));
        Assert.Equal("a|gpu|07|engine", extractor.EntityId(Register("gpu|07", ActorRefs.Nobody)));
        Assert.Equal("a|gpu|07|engine", extractor.EntityId(new ThrottleAck("engine", 1, true, "", "gpu|07")));
        Assert.Null(extractor.EntityId(new ThrottleAck("engine", 1, true, ""))); // the front door gives it a host first
        Assert.Equal(extractor.ShardId(VramSample("gpu|07", 0.5, 0)), extractor.ShardId(new EvaluateProfile("engine", profile)));
        Assert.Equal(extractor.ShardId("p|gpu|07"), extractor.ShardId("a|gpu|07|engine")); // remembered entities restart in the same shard
        Assert.True(GovernorEntities.TryParseActuator("a|gpu|07|engine", out var host, out var subsystem));
        Assert.Equal(("gpu|07", "engine"), (host, subsystem));
        Assert.False(GovernorEntities.TryParseActuator("p|gpu-07", out _, out _));
        Assert.False(GovernorEntities.TryParseActuator("a|engine", out _, out _));
    }

    [Fact]
    public async Task A_subsystem_that_registers_on_another_host_keeps_its_levels_and_is_governed_by_the_new_hosts_samples_only()
    {
        var first = _kit.CreateTestProbe();
        _host.Policy.Tell(Register("host-a", first.Ref), first.Ref);
        first.ExpectMsg<SubsystemRegistered>(Wait);
        var t = 0.0;
        await _kit.AwaitAssertAsync(() =>
        {
            _host.Profilers.Tell(VramSample("host-a", 0.95, t += 10));
            Assert.Equal(0.5, first.ExpectMsg<Throttle>(TimeSpan.FromSeconds(2)).Level);
        }, Wait);

        // The subsystem restarts on host-b: the old process is gone, the new one registers with the new host.
        Assert.True(await first.Ref.GracefulStop(Wait));
        var second = _kit.CreateTestProbe();
        SubsystemRegistered registered = null!;
        await _kit.AwaitAssertAsync(() =>
        {
            // the actuator may not have seen the old holder die yet: it rejects until it has
            _host.Policy.Tell(Register("host-b", second.Ref), second.Ref);
            registered = second.FishForMessage<SubsystemRegistered>(_ => true, TimeSpan.FromSeconds(3));
        }, Wait);
        Assert.Equal(0.5, registered.Levels[ActionNames.ReduceBatch]); // the state moved along

        // Every status answer (a query naming no host: directory or journal) says host-b.
        await _kit.AwaitAssertAsync(async () =>
            Assert.Equal("host-b", (await _host.Policy.Ask<SubsystemStatus>(new GetSubsystemStatus("engine"), Wait)).Host), Wait);

        // host-a's hot samples no longer govern it; host-b's do.
        for (var i = 0; i < 3; i++) _host.Profilers.Tell(VramSample("host-a", 0.99, t += 10));
        second.ExpectNoMsg(TimeSpan.FromSeconds(2));
        await _kit.AwaitAssertAsync(() =>
        {
            _host.Profilers.Tell(VramSample("host-b", 0.95, t += 10));
            var throttle = second.FishForMessage<Throttle>(_ => true, TimeSpan.FromSeconds(2));
            Assert.Equal(0.25, throttle.Level);
            Assert.Equal("host-b", throttle.Host);
        }, Wait);

        // One writer at a time: no write of the shared persistence id failed (a second writer collides on its sequence numbers).
        Assert.Equal(0, GovernorMetrics.Get(_host.System).JournalFailures.WithLabels(GovernorEntities.ActuatorType).Value);
        var rows = _host.CountRows("journal", $"persistence_id = '{ActuatorActor.PersistenceIdFor("engine")}'");
        Assert.True(rows >= 4, $"{rows} journal rows"); // two registrations, the move, two decisions at least
    }

    [Fact]
    public async Task A_journal_written_by_an_actuator_keyed_by_its_subsystem_alone_recovers_in_the_host_region()
    {
        // The release before issue 15: the actuator entity was keyed by subsystem; its persistence id is unchanged.
        var subsystem = _kit.CreateTestProbe();
        var old = _host.System.ActorOf(ActuatorActor.Props("engine", _host.Config.Policy, _host.Config.Actuator, ActorRefs.Nobody, _host.Config.Persistence),
            "old-actuator");
        old.Tell(Register("gpu-old", subsystem.Ref), subsystem.Ref);
        subsystem.ExpectMsg<SubsystemRegistered>(Wait);
        await _kit.AwaitAssertAsync(() =>
            Assert.True(_host.CountRows("journal", $"persistence_id = '{ActuatorActor.PersistenceIdFor("engine")}'") >= 1), Wait);
        Assert.True(await old.GracefulStop(Wait)); // its registration is in the journal (above)

        // A status query that names no host and is in no directory finds the actuator through its journal.
        var status = await _host.Policy.Ask<SubsystemStatus>(new GetSubsystemStatus("engine"), Wait);
        Assert.Equal("gpu-old", status.Host);
        Assert.Equal(5, status.Priority);
        Assert.Equal(1.0, status.Levels[ActionNames.ReduceBatch]);

        // ...and its host's samples govern it again, from the new region.
        var t = 0.0;
        await _kit.AwaitAssertAsync(() =>
        {
            _host.Profilers.Tell(VramSample("gpu-old", 0.95, t += 10));
            Assert.Equal(0.5, subsystem.FishForMessage<Throttle>(_ => true, TimeSpan.FromSeconds(2)).Level);
        }, Wait);
    }
}
