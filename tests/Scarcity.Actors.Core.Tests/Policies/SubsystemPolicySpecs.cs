using System.Collections.Immutable;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Policies;

public sealed class SubsystemPolicySpecs
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly PolicyRule Vram = new(MetricNames.VramUtil, 0.85, ActionNames.ReduceBatch, 0.5) { Signal = SignalKind.Raw, Release = 0.80 };

    private static ImmutableDictionary<string, MetricEstimate> Metrics(params (string Series, double Value, bool Stale)[] values) =>
        values.ToImmutableDictionary(v => v.Series, v => new MetricEstimate(v.Value, v.Value, v.Value, 0, v.Value, 0, T0, v.Stale));

    private static ImmutableDictionary<string, MetricEstimate> Vram_(double value, bool stale = false) =>
        Metrics((MetricNames.VramUtil, value, stale));

    [Fact]
    public void A_rule_held_true_for_60_s_escalates_at_most_once_per_cooldown_and_never_below_MinLevel()
    {
        // Without the effect check, which would hold after two cuts that left the reading where it was.
        var config = new PolicyConfig { Cooldown = TimeSpan.FromSeconds(5), MinLevel = 0.1, IneffectiveAfterCuts = 0 };
        var policy = new SubsystemPolicy("engine", [Vram], config);
        var changes = new List<(double T, LevelChange Change)>();

        for (var t = 0.0; t <= 60; t += 0.25)
            foreach (var c in policy.Evaluate(Vram_(0.95), T0.AddSeconds(t)))
                changes.Add((t, c));

        Assert.Equal(0.0, changes[0].T);
        Assert.All(changes.Zip(changes.Skip(1)), p => Assert.True(p.Item2.T - p.Item1.T >= 5 - 1e-9));
        Assert.All(changes, c => Assert.True(c.Change.Level >= 0.1));
        Assert.Equal(0.1, policy.Levels[ActionNames.ReduceBatch], 9);
        // 1 -> 0.5 -> 0.25 -> 0.125 -> 0.1, then nothing more to do
        Assert.Equal(4, changes.Count);
    }

    [Fact]
    public void A_value_hovering_at_the_threshold_does_not_chatter()
    {
        var policy = new SubsystemPolicy("engine", [Vram], new PolicyConfig());
        var transitions = 0;
        var wasActive = false;
        var random = new Random(7);

        for (var t = 0.0; t <= 120; t += 0.25)
        {
            policy.Evaluate(Vram_(0.85 + (random.NextDouble() * 0.02 - 0.01)), T0.AddSeconds(t));
            var active = policy.IsActive(Vram);
            if (active != wasActive) transitions++;
            wasActive = active;
        }

        Assert.True(transitions <= 1, $"the rule changed state {transitions} times");
    }

    [Fact]
    public void Levels_recover_additively_to_1_after_release_and_the_restore_to_1_is_sent()
    {
        var config = new PolicyConfig { Cooldown = TimeSpan.FromSeconds(5), RecoveryDelay = TimeSpan.FromSeconds(10), RecoveryStep = 0.1 };
        var policy = new SubsystemPolicy("engine", [Vram], config);
        policy.Evaluate(Vram_(0.95), T0);
        Assert.Equal(0.5, policy.Levels[ActionNames.ReduceBatch]);

        var recovery = new List<(double T, LevelChange C)>();
        for (var t = 1.0; t <= 60; t += 0.25)
            foreach (var c in policy.Evaluate(Vram_(0.60), T0.AddSeconds(t)))
                recovery.Add((t, c));

        Assert.Equal(11.0, recovery[0].T); // released at 1 s, plus the recovery delay
        Assert.Equal([0.6, 0.7, 0.8, 0.9, 1.0], recovery.Select(r => Math.Round(r.C.Level, 9)));
        Assert.All(recovery, r => Assert.Equal("recovery", r.C.Reason.Rule));
        Assert.Equal(1.0, recovery[^1].C.Level);
    }

    [Fact]
    public void Hysteresis_keeps_the_rule_active_between_release_and_threshold_so_no_recovery_starts()
    {
        var policy = new SubsystemPolicy("engine", [Vram], new PolicyConfig { RecoveryDelay = TimeSpan.Zero });
        policy.Evaluate(Vram_(0.90), T0);
        for (var t = 1; t < 60; t++) policy.Evaluate(Vram_(0.82), T0.AddSeconds(t));
        Assert.True(policy.IsActive(Vram));
        Assert.True(policy.Levels[ActionNames.ReduceBatch] < 1);
    }

    [Fact]
    public void A_missing_metric_skips_the_rule_holds_the_level_and_says_why()
    {
        var policy = new SubsystemPolicy("engine", [Vram], new PolicyConfig { RecoveryDelay = TimeSpan.Zero });
        policy.Evaluate(Vram_(0.95), T0);

        var changes = policy.Evaluate(Metrics((MetricNames.CpuUtil, 0.2, false)), T0.AddSeconds(30));

        Assert.Empty(changes);
        Assert.Equal(0.5, policy.Levels[ActionNames.ReduceBatch]);
        Assert.Contains(policy.Skipped, s => s.Contains("'vram_util' is missing"));
    }

    [Fact]
    public void A_stale_metric_skips_the_rule_and_never_reads_as_zero()
    {
        var below = new PolicyRule("tokens_per_s", 25, ActionNames.Throttle, 0.5, RuleDirection.Below) { Signal = SignalKind.Raw };
        var policy = new SubsystemPolicy("engine", [below], new PolicyConfig());

        var changes = policy.Evaluate(Metrics(("tokens_per_s", 0, true)), T0);

        Assert.Empty(changes);
        Assert.Equal(1.0, policy.Levels[ActionNames.Throttle]);
        Assert.Contains(policy.Skipped, s => s.Contains("is stale"));
    }

    [Fact]
    public void The_highest_priority_active_rule_decides()
    {
        var low = new PolicyRule(MetricNames.CpuUtil, 0.5, ActionNames.Throttle, 0.9, Priority: 1) { Signal = SignalKind.Raw };
        var high = new PolicyRule(MetricNames.MemUtil, 0.5, ActionNames.Throttle, 0.3, Priority: 5) { Signal = SignalKind.Raw };
        var policy = new SubsystemPolicy("engine", [low, high], new PolicyConfig());

        var change = Assert.Single(policy.Evaluate(Metrics((MetricNames.CpuUtil, 0.9, false), (MetricNames.MemUtil, 0.9, false)), T0));

        Assert.Equal(0.3, change.Level, 9);
        Assert.Equal(high.ToString(), change.Reason.Rule);
    }

    [Fact]
    public void A_subsystem_rule_reads_its_own_labelled_series_before_the_host_series()
    {
        var latency = new PolicyRule(MetricNames.LatencyMs, 500, ActionNames.ShedLoad, 0.5) { Signal = SignalKind.Raw };
        var policy = new SubsystemPolicy("engine", [latency], new PolicyConfig());
        var own = MetricNames.Labelled(MetricNames.LatencyMs, MetricNames.SubsystemLabel, "engine");
        var other = MetricNames.Labelled(MetricNames.LatencyMs, MetricNames.SubsystemLabel, "other");

        Assert.Empty(policy.Evaluate(Metrics((other, 900, false)), T0));
        var change = Assert.Single(policy.Evaluate(Metrics((own, 900, false), (other, 10, false)), T0.AddSeconds(1)));

        Assert.Equal(own, change.Reason.Metric);
        Assert.Equal(900, change.Reason.Value);
    }

    [Fact]
    public void Scale_up_raises_a_capacity_multiplier_bounded_by_MaxScaleUp_and_recovers_down_to_1()
    {
        var rule = new PolicyRule(MetricNames.QueueDepth, 100, ActionNames.ScaleUp, 2) { Signal = SignalKind.Raw };
        var config = new PolicyConfig { Cooldown = TimeSpan.FromSeconds(1), RecoveryDelay = TimeSpan.Zero, RecoveryStep = 1, MaxScaleUp = 3 };
        var policy = new SubsystemPolicy("engine", [rule], config);

        for (var t = 0; t < 10; t++) policy.Evaluate(Metrics((MetricNames.QueueDepth, 500, false)), T0.AddSeconds(t));
        Assert.Equal(3, policy.Levels[ActionNames.ScaleUp]);

        for (var t = 10; t < 20; t++) policy.Evaluate(Metrics((MetricNames.QueueDepth, 0, false)), T0.AddSeconds(t));
        Assert.Equal(1, policy.Levels[ActionNames.ScaleUp]);
    }

    [Fact]
    public void A_decision_carries_its_inputs_and_a_reason_with_value_and_forecast()
    {
        var rule = Vram with { Signal = SignalKind.Forecast };
        var policy = new SubsystemPolicy("engine", [rule], new PolicyConfig());
        var metrics = ImmutableDictionary<string, MetricEstimate>.Empty.Add(MetricNames.VramUtil,
            new MetricEstimate(0.80, 0.79, 0.80, 0.02, 0.90, 0.01, T0, false));

        var change = Assert.Single(policy.Evaluate(metrics, T0));

        Assert.Equal(0.90, change.Reason.Value);
        Assert.Equal(0.90, change.Reason.Forecast);
        Assert.Equal("forecast", change.Reason.Signal);
        Assert.Equal(0.90, change.Inputs["vram_util:forecast"]);
    }

    [Fact]
    public void Restored_state_continues_the_cooldown_of_the_last_decision()
    {
        var policy = new SubsystemPolicy("engine", [Vram], new PolicyConfig { Cooldown = TimeSpan.FromSeconds(5) });
        policy.Restore(ActionNames.ReduceBatch, new ActionState(0.5, T0));

        Assert.Empty(policy.Evaluate(Vram_(0.95), T0.AddSeconds(2)));
        var change = Assert.Single(policy.Evaluate(Vram_(0.95), T0.AddSeconds(5)));
        Assert.Equal(0.25, change.Level, 9);
    }
}
