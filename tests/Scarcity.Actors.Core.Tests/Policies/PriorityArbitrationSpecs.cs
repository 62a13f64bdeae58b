using System.Collections.Immutable;
using Microsoft.Extensions.Configuration;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Policies;

/// <summary>
/// Priorities across subsystems that share a resource: several <see cref="SubsystemPolicy"/> instances with their
/// <see cref="PriorityArbitration"/>, exchanging their states as the actors do (each evaluation sees its peers' states of
/// the previous profile, as the host's profiler relays them).
/// </summary>
public sealed class PriorityArbitrationSpecs
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private const string Host = "gpu-host";

    private static PolicyRule VramRule(string metric = MetricNames.VramUtil) =>
        new(metric, 0.85, ActionNames.ReduceBatch, 0.5) { Signal = SignalKind.Raw, Release = 0.82 };

    private static PolicyConfig Config(Action<PolicyConfig>? configure = null)
    {
        var config = new PolicyConfig
        {
            Cooldown = TimeSpan.FromSeconds(1),
            RecoveryDelay = TimeSpan.FromSeconds(2),
            RecoveryInterval = TimeSpan.FromSeconds(1),
            RecoveryStep = 0.25,
            IneffectiveAfterCuts = 0,
            Policies = new() { ["*"] = [VramRule()] },
        };
        configure?.Invoke(config);
        return config;
    }

    /// <summary>Subsystems of one host, their policies and arbitrations, and the peers' states relayed one profile late.</summary>
    private sealed class SharedHost(PolicyConfig config, params (string Name, int Priority)[] subsystems)
    {
        public readonly Dictionary<string, SubsystemPolicy> Policies = subsystems.ToDictionary(s => s.Name, s =>
        {
            var policy = new SubsystemPolicy(s.Name, config.RulesFor(s.Name), config)
            {
                Arbitration = new PriorityArbitration(s.Name, config.Priorities, config) { Priority = s.Priority },
            };
            return policy;
        });

        public readonly List<(double T, string Subsystem, LevelChange Change)> Changes = [];
        public readonly HashSet<string> Unreachable = [];

        public double Level(string subsystem) => Policies[subsystem].Levels[ActionNames.ReduceBatch];

        public void Step(double t, IReadOnlyDictionary<string, MetricEstimate> metrics)
        {
            // The actuators report at registration: the peers are known before the first profile.
            if (!_started) Exchange();
            _started = true;
            foreach (var (name, policy) in Policies)
                foreach (var change in policy.Evaluate(metrics, T0.AddSeconds(t)))
                    Changes.Add((t, name, change));
            Exchange();
        }

        private bool _started;

        // What the profiler relays: every actuator's state, to the others, for their next evaluation.
        private void Exchange()
        {
            var states = Policies.Select(p => p.Value.Arbitration!.Report(Host, !Unreachable.Contains(p.Key), p.Value)).ToList();
            foreach (var (_, policy) in Policies) policy.Arbitration!.SetPeers(states);
        }

        public double FirstCut(string subsystem) => Changes.First(c => c.Subsystem == subsystem && c.Change.Level < c.Change.PreviousLevel).T;
        public double FirstRecovery(string subsystem, double after) =>
            Changes.First(c => c.Subsystem == subsystem && c.T > after && c.Change.Level > c.Change.PreviousLevel).T;
        public double FullyRecovered(string subsystem, double after) =>
            Changes.First(c => c.Subsystem == subsystem && c.T > after && c.Change.Level >= 1).T;
        public double ReachedFloor(string subsystem) => Changes.First(c => c.Subsystem == subsystem && Math.Abs(c.Change.Level - 0.1) < 1e-9).T;
    }

    private static ImmutableDictionary<string, MetricEstimate> Metrics(params (string Series, double Value)[] values) =>
        values.ToImmutableDictionary(v => v.Series, v => new MetricEstimate(v.Value, v.Value, v.Value, 0, v.Value, 0, T0, false));

    [Fact]
    public void Under_lasting_pressure_the_lowest_priority_is_cut_to_its_floor_first_then_the_middle_then_the_highest_and_recovery_goes_highest_first()
    {
        var host = new SharedHost(Config(), ("trainer", 1), ("indexer", 5), ("inference", 9));

        // 40 s at 0.95 (nothing the cuts do relieves it), then 60 s at 0.5.
        for (var t = 0.0; t < 40; t += 0.25) host.Step(t, Metrics((MetricNames.VramUtil, 0.95)));
        Assert.Equal(0.1, host.Level("trainer"), 9);
        Assert.Equal(0.1, host.Level("indexer"), 9);
        Assert.Equal(0.1, host.Level("inference"), 9);
        Assert.Equal(0.0, host.FirstCut("trainer"));
        Assert.True(host.FirstCut("indexer") > host.ReachedFloor("trainer"), "the middle was cut before the lowest reached its floor");
        Assert.True(host.FirstCut("inference") > host.ReachedFloor("indexer"), "the highest was cut before the middle reached its floor");
        // One profile after the one below reached its floor: the states travel one profile late.
        Assert.Equal(host.ReachedFloor("trainer") + 0.25, host.FirstCut("indexer"));
        var middleFirst = host.Changes.First(c => c.Subsystem == "indexer").Change;
        Assert.Contains("taken: lower-priority trainer at the floor or ineffective on reduce_batch", middleFirst.Reason.Rule);
        Assert.Contains("vram_util raw > 0.85", middleFirst.Reason.Rule);
        Assert.DoesNotContain("taken", host.Changes.First(c => c.Subsystem == "trainer").Change.Reason.Rule);

        for (var t = 40.0; t < 100; t += 0.25) host.Step(t, Metrics((MetricNames.VramUtil, 0.5)));
        Assert.All(host.Policies.Keys, s => Assert.Equal(1.0, host.Level(s), 9));
        Assert.True(host.FirstRecovery("indexer", 40) > host.FullyRecovered("inference", 40), "the middle recovered before the highest was back to 1");
        Assert.True(host.FirstRecovery("trainer", 40) > host.FullyRecovered("indexer", 40), "the lowest recovered before the middle was back to 1");
        Assert.Equal("recovery", host.Changes.Last().Change.Reason.Rule);
    }

    [Fact]
    public void While_the_lowest_cuts_the_higher_ones_are_held_and_say_by_whom()
    {
        var host = new SharedHost(Config(), ("trainer", 1), ("inference", 9));
        for (var t = 0.0; t <= 1.5; t += 0.25) host.Step(t, Metrics((MetricNames.VramUtil, 0.95)));

        Assert.Equal(0.25, host.Level("trainer"), 9);
        Assert.Equal(1.0, host.Level("inference"), 9);
        var held = host.Policies["inference"].Arbitration!.Holds[ActionNames.ReduceBatch];
        Assert.Equal("held: lower-priority trainer (priority 1, reduce_batch at 0.25) can still cut reduce_batch", held);
        Assert.Empty(host.Policies["trainer"].Arbitration!.Holds);
    }

    [Fact]
    public void When_the_lowest_cut_relieves_the_resource_the_higher_priorities_are_never_touched()
    {
        var host = new SharedHost(Config(), ("trainer", 1), ("indexer", 5), ("inference", 9));

        // The card's memory: a base that rises from 0.5 to 0.6, plus what each engine holds at its level.
        for (var t = 0.0; t < 60; t += 0.25)
        {
            var vram = Math.Min(0.6, 0.5 + t / 100) + 0.2 * host.Level("trainer") + 0.05 * host.Level("indexer") + 0.05 * host.Level("inference");
            host.Step(t, Metrics((MetricNames.VramUtil, vram)));
        }

        Assert.Equal(["trainer"], host.Changes.Select(c => c.Subsystem).Distinct());
        Assert.Equal(1.0, host.Level("indexer"));
        Assert.Equal(1.0, host.Level("inference"));
    }

    [Fact]
    public void Subsystems_on_different_GPUs_of_one_host_do_not_hold_each_other_and_each_reads_its_own_GPU()
    {
        var config = Config(c => c.Priorities.Resources = new() { ["trainer"] = "gpu=0", ["inference"] = "gpu=1" });
        var host = new SharedHost(config, ("trainer", 1), ("inference", 9));
        var gpu0 = MetricNames.Labelled(MetricNames.VramUtil, "gpu", "0");
        var gpu1 = MetricNames.Labelled(MetricNames.VramUtil, "gpu", "1");

        // Both GPUs full: each is cut at once, no waiting for the other.
        host.Step(0, Metrics((gpu0, 0.95), (gpu1, 0.95), (MetricNames.VramUtil, 0.95)));
        host.Step(1, Metrics((gpu0, 0.95), (gpu1, 0.95), (MetricNames.VramUtil, 0.95)));
        Assert.Equal(0.25, host.Level("trainer"), 9);
        Assert.Equal(0.25, host.Level("inference"), 9);
        Assert.Empty(host.Policies["inference"].Arbitration!.Peers);

        // Only GPU 1 full: the host's worst-GPU series says 0.95 too, but the engine on GPU 0 reads its own GPU.
        var other = new SharedHost(config, ("trainer", 1), ("inference", 9));
        for (var t = 0.0; t < 5; t += 0.25) other.Step(t, Metrics((gpu0, 0.4), (gpu1, 0.95), (MetricNames.VramUtil, 0.95)));
        Assert.Equal(1.0, other.Level("trainer"));
        Assert.True(other.Level("inference") < 1);
        Assert.Equal(gpu1, other.Changes[0].Change.Reason.Metric);
    }

    [Fact]
    public void A_subsystem_of_the_whole_host_shares_with_every_GPU()
    {
        var config = Config(c => c.Priorities.Resources = new() { ["inference"] = "gpu=1" });
        var host = new SharedHost(config, ("preprocess", 1), ("inference", 9));
        for (var t = 0.0; t <= 1; t += 0.25) host.Step(t, Metrics((MetricNames.Labelled(MetricNames.VramUtil, "gpu", "1"), 0.95), (MetricNames.VramUtil, 0.95)));

        Assert.Equal(1.0, host.Level("inference"));
        Assert.True(host.Level("preprocess") < 1);
        Assert.True(PriorityArbitration.Shares(null, "gpu=1"));
        Assert.False(PriorityArbitration.Shares("gpu=0", "gpu=1"));
    }

    [Fact]
    public void Equal_priorities_are_cut_together_as_if_each_were_alone()
    {
        var host = new SharedHost(Config(), ("a", 5), ("b", 5));
        for (var t = 0.0; t <= 1; t += 0.25) host.Step(t, Metrics((MetricNames.VramUtil, 0.95)));
        Assert.Equal(0.25, host.Level("a"), 9);
        Assert.Equal(0.25, host.Level("b"), 9);
    }

    [Fact]
    public void A_lower_priority_that_does_not_cut_holds_a_higher_one_only_for_the_hold_time()
    {
        // The trainer's own rule watches another metric, so it never cuts for VRAM although it could.
        var config = Config(c =>
        {
            c.Policies = new() { ["inference"] = [VramRule()], ["trainer"] = [new PolicyRule(MetricNames.CpuUtil, 0.9, ActionNames.ReduceBatch, 0.5)] };
            c.Priorities.HoldTime = TimeSpan.FromSeconds(10);
        });
        var host = new SharedHost(config, ("trainer", 1), ("inference", 9));
        for (var t = 0.0; t < 15; t += 0.25) host.Step(t, Metrics((MetricNames.VramUtil, 0.95), (MetricNames.CpuUtil, 0.2)));

        Assert.Equal(10.0, host.FirstCut("inference"));
        Assert.Contains("taken: pressure lasted the hold time (10 s) past the cuts of lower-priority trainer", host.Changes[0].Change.Reason.Rule);
        Assert.Equal(1.0, host.Level("trainer"));
    }

    [Fact]
    public void A_lower_priority_that_is_down_holds_no_one()
    {
        var host = new SharedHost(Config(), ("trainer", 1), ("inference", 9));
        host.Unreachable.Add("trainer");
        host.Step(0, Metrics((MetricNames.VramUtil, 0.5)));
        host.Step(0.25, Metrics((MetricNames.VramUtil, 0.95)));
        Assert.Equal(0.5, host.Level("inference"), 9);
    }

    [Fact]
    public void A_lower_priority_whose_actuator_stopped_reporting_holds_no_one_after_three_report_intervals()
    {
        var config = Config();
        var arbitration = new PriorityArbitration("inference", config.Priorities, config) { Priority = 9 };
        var lower = new SubsystemPeerState(Host, "trainer", null, 1, true,
            [new PeerAction(ActionNames.ReduceBatch, 1, true, false, null, null, null)], T0);
        arbitration.SetPeers([lower]);
        arbitration.Observe(ActionNames.ReduceBatch, true, T0.AddSeconds(85));

        Assert.True(arbitration.Cut(ActionNames.ReduceBatch, T0.AddSeconds(89)).Hold);
        Assert.Equal(TimeSpan.FromSeconds(90), PriorityArbitration.PeerStaleAfter);
        Assert.Equal(PriorityVerdict.Free, arbitration.Cut(ActionNames.ReduceBatch, T0.AddSeconds(91)));
        Assert.Empty(arbitration.Holds);
    }

    [Fact]
    public void A_higher_priority_stuck_below_1_releases_the_recovery_of_the_lower_ones_after_the_recovery_delay_and_hold_time()
    {
        var config = Config(c => c.Priorities.HoldTime = TimeSpan.FromSeconds(5));
        var arbitration = new PriorityArbitration("trainer", config.Priorities, config) { Priority = 1 };
        var stuck = new SubsystemPeerState(Host, "inference", null, 9, true,
            [new PeerAction(ActionNames.ReduceBatch, 0.4, true, false, T0, T0, T0.AddSeconds(1))]);
        arbitration.SetPeers([stuck]);

        var early = arbitration.Recover(ActionNames.ReduceBatch, T0.AddSeconds(7.9)); // released at 1 s: 2 s delay + 5 s hold not over
        Assert.True(early.Hold);
        Assert.Equal("held: higher-priority inference (priority 9, reduce_batch at 0.4) recovers first", early.Note);
        Assert.False(arbitration.Recover(ActionNames.ReduceBatch, T0.AddSeconds(8.1)).Hold);
        // Still pressed: it holds whatever the time.
        arbitration.SetPeers([stuck with { Actions = [stuck.Actions[0] with { Pressed = true }] }]);
        Assert.True(arbitration.Recover(ActionNames.ReduceBatch, T0.AddSeconds(100)).Hold);
    }

    [Fact]
    public void Alone_on_its_resource_a_subsystem_decides_exactly_as_without_priorities()
    {
        var config = Config(c => c.IneffectiveAfterCuts = 2);
        var plain = new SubsystemPolicy("engine", config.RulesFor("engine"), config);
        var arbitrated = new SubsystemPolicy("engine", config.RulesFor("engine"), config)
        {
            Arbitration = new PriorityArbitration("engine", config.Priorities, config) { Priority = 3 },
        };
        arbitrated.Arbitration.SetPeers([arbitrated.Arbitration.Report(Host, true, arbitrated)]); // itself: never a peer
        var random = new Random(11);
        for (var t = 0.0; t < 120; t += 0.25)
        {
            var metrics = Metrics((MetricNames.VramUtil, 0.7 + 0.3 * random.NextDouble()));
            var expected = plain.Evaluate(metrics, T0.AddSeconds(t));
            var actual = arbitrated.Evaluate(metrics, T0.AddSeconds(t));
            Assert.Equal(expected.Select(c => (c.Action, c.Level, c.Reason)), actual.Select(c => (c.Action, c.Level, c.Reason)));
        }
        Assert.Empty(arbitrated.Arbitration.Peers);
    }

    [Fact]
    public void A_cut_for_the_subsystems_own_series_is_not_held_by_a_peer()
    {
        // Its own latency is its own problem: a lower-priority peer's cut would not relieve it.
        var config = Config(c =>
        {
            c.LatencyAdmission = false;
            c.Policies = new() { ["*"] = [new PolicyRule(MetricNames.LatencyMs, 500, ActionNames.ShedLoad, 0.5) { Signal = SignalKind.Raw }] };
        });
        var host = new SharedHost(config, ("trainer", 1), ("inference", 9));
        host.Step(0, Metrics((MetricNames.Labelled(MetricNames.LatencyMs, MetricNames.SubsystemLabel, "trainer"), 100),
            (MetricNames.Labelled(MetricNames.LatencyMs, MetricNames.SubsystemLabel, "inference"), 100)));
        host.Step(0.25, Metrics((MetricNames.Labelled(MetricNames.LatencyMs, MetricNames.SubsystemLabel, "trainer"), 100),
            (MetricNames.Labelled(MetricNames.LatencyMs, MetricNames.SubsystemLabel, "inference"), 900)));
        Assert.Equal(0.5, host.Policies["inference"].Levels[ActionNames.ShedLoad], 9);
    }

    [Fact]
    public void Order_puts_the_lowest_priority_first_and_breaks_ties_by_name()
    {
        var order = PriorityArbitration.Order([("b", 5), ("inference", 9), ("a", 5), ("trainer", 1)], s => s.Item2, s => s.Item1);
        Assert.Equal(["trainer", "a", "b", "inference"], order.Select(s => s.Item1));
    }

    [Fact]
    public void The_settings_bind_from_the_policy_section_and_bad_ones_are_named_by_key()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Scarcity:Policy:Priorities:HoldTime"] = "00:00:20",
            ["Scarcity:Policy:Priorities:Resources:inference"] = "gpu=1",
        }).Build();
        var config = DRGConfig.Load(configuration);
        Assert.Equal(TimeSpan.FromSeconds(20), config.Policy.Priorities.HoldTime);
        Assert.Equal("gpu=1", config.Policy.Priorities.ResourceOf("inference"));
        Assert.Null(config.Policy.Priorities.ResourceOf("trainer"));

        var bad = new PolicyConfig { Priorities = { HoldTime = TimeSpan.Zero, Resources = new() { ["trainer"] = "gpu 0", ["x"] = "gpu=" } } };
        var errors = bad.Validate().ToList();
        Assert.Contains("Scarcity:Policy:Priorities:HoldTime must be positive, was 00:00:00", errors);
        Assert.Contains("Scarcity:Policy:Priorities:Resources:trainer 'gpu 0' is not a resource label: write key=value, e.g. gpu=0", errors);
        Assert.Contains(errors, e => e.StartsWith("Scarcity:Policy:Priorities:Resources:x "));
    }
}
