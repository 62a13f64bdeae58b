using System.Collections.Immutable;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Policies;

/// <summary>
/// Issue 11's control logic in <see cref="SubsystemPolicy"/>: the effect check, separate escalation and recovery pacing,
/// admission by latency on <c>throttle</c> with <c>shed_load</c> as the stronger step.
/// </summary>
public sealed class ControlPolicySpecs
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private const string Engine = "engine";
    private static readonly string Latency = MetricNames.Labelled(MetricNames.LatencyMs, MetricNames.SubsystemLabel, Engine);
    private static readonly string Queue = MetricNames.Labelled(MetricNames.QueueDepth, MetricNames.SubsystemLabel, Engine);

    private static ImmutableDictionary<string, MetricEstimate> Metrics(DateTimeOffset at, params (string Series, double Value)[] values) =>
        values.ToImmutableDictionary(v => v.Series, v => new MetricEstimate(v.Value, v.Value, v.Value, 0, v.Value, 0, at, false));

    [Fact]
    public void A_throttle_cut_twice_without_effect_on_the_cpu_holds_and_is_reported_ineffective()
    {
        // Another process saturates the CPU: throttling the engine changes nothing.
        var policy = new SubsystemPolicy(Engine, PolicyRule.Defaults, new PolicyConfig());
        var levels = new List<double>();

        for (var t = 0.0; t <= 60; t += 0.25)
            foreach (var change in policy.Evaluate(Metrics(T0.AddSeconds(t), (MetricNames.CpuUtil, 0.98)), T0.AddSeconds(t)))
                levels.Add(change.Level);

        // 1 -> 0.7 -> 0.49, then it holds instead of going on to 0.1.
        Assert.Equal([0.7, 0.49], levels.Select(l => Math.Round(l, 6)));
        var why = Assert.Single(policy.Ineffective);
        Assert.Equal(ActionNames.Throttle, why.Key);
        Assert.StartsWith("ineffective: 2 cuts of throttle by 'cpu_util ema > 0.9", why.Value, StringComparison.Ordinal);
    }

    [Fact]
    public void A_cut_that_works_is_never_called_ineffective()
    {
        var rule = new PolicyRule(MetricNames.VramUtil, 0.85, ActionNames.ReduceBatch, 0.5) { Signal = SignalKind.Raw, Release = 0.5 };
        var policy = new SubsystemPolicy(Engine, [rule], new PolicyConfig { LearnBatchResponse = false });

        // Each cut lowers the reading a little, not enough to release the rule.
        for (var t = 0.0; t <= 30; t += 0.25)
        {
            var vram = 0.55 + 0.4 * policy.Levels[ActionNames.ReduceBatch];
            policy.Evaluate(Metrics(T0.AddSeconds(t), (MetricNames.VramUtil, vram)), T0.AddSeconds(t));
        }

        Assert.Empty(policy.Ineffective);
        Assert.Equal(0.1, policy.Levels[ActionNames.ReduceBatch], 9);
    }

    [Fact]
    public void The_ineffective_verdict_ends_when_its_rule_releases()
    {
        var policy = new SubsystemPolicy(Engine, PolicyRule.Defaults, new PolicyConfig());
        Assert.Equal(0, policy.IneffectiveVersion);
        var t = 0.0;
        for (; t <= 30; t += 0.25) policy.Evaluate(Metrics(T0.AddSeconds(t), (MetricNames.CpuUtil, 0.98)), T0.AddSeconds(t));
        Assert.NotEmpty(policy.Ineffective);
        // The version moved once, with the verdict; holding does not move it (an actuator rebuilds the set only then).
        Assert.Equal(1, policy.IneffectiveVersion);

        policy.Evaluate(Metrics(T0.AddSeconds(t), (MetricNames.CpuUtil, 0.5)), T0.AddSeconds(t));

        Assert.Empty(policy.Ineffective);
        Assert.Equal(2, policy.IneffectiveVersion);
    }

    [Fact]
    public void A_recovery_step_never_delays_a_needed_cut()
    {
        // Cooldown 5 s between cuts; recovery steps every 5 s after 0 s released.
        var rule = new PolicyRule(MetricNames.VramUtil, 0.85, ActionNames.ReduceBatch, 0.5) { Signal = SignalKind.Raw, Release = 0.80 };
        var policy = new SubsystemPolicy(Engine, [rule], new PolicyConfig
        {
            LearnBatchResponse = false, RecoveryDelay = TimeSpan.Zero, RecoveryInterval = TimeSpan.FromSeconds(5),
        });
        Assert.Single(policy.Evaluate(Metrics(T0, (MetricNames.VramUtil, 0.95)), T0));
        var recovery = policy.Evaluate(Metrics(T0.AddSeconds(5), (MetricNames.VramUtil, 0.5)), T0.AddSeconds(5));
        Assert.Equal("recovery", Assert.Single(recovery).Reason.Rule);

        // The pressure is back 0.25 s after the recovery step, 5.25 s after the last cut: it is cut at once.
        var cut = policy.Evaluate(Metrics(T0.AddSeconds(5.25), (MetricNames.VramUtil, 0.95)), T0.AddSeconds(5.25));

        Assert.Equal(0.3, Assert.Single(cut).Level, 9);
    }

    [Fact]
    public void Latency_over_its_objective_cuts_throttle_and_headroom_brings_it_back()
    {
        var policy = new SubsystemPolicy(Engine, PolicyRule.Defaults, new PolicyConfig(), latencyObjectiveMs: 400);
        var t = 0.0;
        void Step(double latency, double queue)
        {
            var at = T0.AddSeconds(t);
            policy.Evaluate(Metrics(at, (Latency, latency), (Queue, queue)), at);
            t += 0.25;
        }

        Step(50, 0);
        // The queue grows by 2 requests a reading at 8 served a second: over 0.6 x 400 ms from the third reading.
        for (var q = 2.0; q <= 8; q += 2) Step(50 + 1000 * q / 8, q);
        var cut = policy.Levels[ActionNames.Throttle];
        for (var i = 0; i < 20; i++) Step(50, 0);

        Assert.InRange(cut, 0.1, 0.9);
        Assert.Equal(1, policy.Levels[ActionNames.Throttle]);
        Assert.Equal(400, policy.LatencyObjectiveMs);
    }

    [Fact]
    public void Shed_load_waits_until_throttle_has_no_room_left()
    {
        var policy = new SubsystemPolicy(Engine, PolicyRule.Defaults, new PolicyConfig());
        var shedAtThrottle = new List<double>();

        // Latency far over the objective and a queue that keeps growing whatever is admitted.
        for (var i = 0; i < 200; i++)
        {
            var at = T0.AddSeconds(i * 0.25);
            foreach (var change in policy.Evaluate(Metrics(at, (Latency, 2000 + 10 * i), (Queue, 100 + i)), at))
                if (change.Action == ActionNames.ShedLoad) shedAtThrottle.Add(policy.Levels[ActionNames.Throttle]);
        }

        Assert.NotEmpty(shedAtThrottle);
        Assert.All(shedAtThrottle, level => Assert.Equal(new PolicyConfig().MinLevel, level, 9));
    }

    [Fact]
    public void Latency_admission_alone_does_not_throttle_a_subsystem_that_reports_no_latency()
    {
        var policy = new SubsystemPolicy(Engine, PolicyRule.Defaults, new PolicyConfig());

        for (var t = 0.0; t <= 30; t += 0.25) policy.Evaluate(Metrics(T0.AddSeconds(t), (MetricNames.CpuUtil, 0.3)), T0.AddSeconds(t));

        Assert.Equal(1, policy.Levels[ActionNames.Throttle]);
    }

    [Fact]
    public void The_limiter_climbs_back_to_the_capacity_it_saw_and_probes_past_it()
    {
        var limiter = new LatencyAdmission(500, 0.6, 0.1);
        var level = 1.0;
        // Over the target without a queue reported: cut by the gradient.
        level = limiter.Next(level, 300, double.NaN);
        level = limiter.Next(level, 600, double.NaN);
        var cut = level;
        var climb = new List<double>();
        for (var i = 0; i < 12; i++) climb.Add(level = limiter.Next(level, 100, double.NaN));

        Assert.True(cut < 0.6, $"cut to {cut}");
        Assert.Equal(1, climb[^1]);
        Assert.All(climb.Zip(climb.Skip(1)), p => Assert.True(p.Second >= p.First));
    }
}
