using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Profiling;
using Scarcity.Actors.Replay;
using Scarcity.Actors.Sensing;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Replay;

/// <summary>
/// The reference traces of shared/traces, replayed with one subsystem governed by the default VRAM rule
/// (<c>vram_util &gt; 0.85 -&gt; reduce_batch 0.5</c> on the forecast): what the old loop got wrong, ours must get right.
/// </summary>
public sealed class ReferenceTraceSpecs
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);
    private static readonly PolicyRule VramRule = PolicyRule.Defaults.Single(r => r.Metric == MetricNames.VramUtil);
    private static readonly PolicyConfig Policy = new();

    private static IReadOnlyList<ReplayedDecision> Replay(string trace, Action<TimeSpan, SubsystemPolicy>? each = null)
    {
        using var source = new TraceSensorSource(Path.Combine(AppContext.BaseDirectory, "Traces", trace));
        return TelemetryReplay.Run(source, [VramRule], new ProfilerConfig(), Policy, Interval, each);
    }

    [Fact]
    public void On_a_step_it_acts_at_the_first_sample_after_the_step_and_escalation_stays_bounded()
    {
        var decisions = Replay("vram-step.csv");

        Assert.Equal(TimeSpan.FromSeconds(2.0), decisions[0].At);
        Assert.Equal(0.5, decisions[0].Change.Level);
        Assert.All(decisions, d => Assert.True(d.Change.Level >= Policy.MinLevel));
        Assert.All(decisions.Zip(decisions.Skip(1)), p => Assert.True(p.Item2.At - p.Item1.At >= Policy.Cooldown));
    }

    [Fact]
    public void On_a_10_s_ramp_to_OOM_it_acts_at_least_4_s_before_OOM_on_the_forecast()
    {
        var decisions = Replay("vram-ramp-oom-10s.csv");

        var first = decisions[0];
        Assert.True(TimeSpan.FromSeconds(10) - first.At >= TimeSpan.FromSeconds(4),
            $"first action at {first.At.TotalSeconds} s, only {(10 - first.At.TotalSeconds):0.00} s before OOM");
        Assert.Equal("forecast", first.Change.Reason.Signal);
        Assert.True(first.Change.Reason.Value > 0.85);
    }

    [Fact]
    public void Held_for_60_s_then_released_it_escalates_at_most_once_per_cooldown_and_recovers_to_1()
    {
        var decisions = Replay("vram-hold-then-release.csv");

        var escalations = decisions.Where(d => d.Change.Level < d.Change.PreviousLevel).ToList();
        Assert.All(escalations.Zip(escalations.Skip(1)), p => Assert.True(p.Item2.At - p.Item1.At >= Policy.Cooldown));
        Assert.All(decisions, d => Assert.True(d.Change.Level >= Policy.MinLevel));
        Assert.True(escalations.Count <= 60 / Policy.Cooldown.TotalSeconds + 1);
        Assert.Equal(1.0, decisions[^1].Change.Level);
        Assert.Equal("recovery", decisions[^1].Change.Reason.Rule);
    }

    [Fact]
    public void Hovering_at_the_threshold_the_rule_holds_one_state()
    {
        var transitions = 0;
        var was = false;
        Replay("vram-hover-threshold.csv", (_, policy) =>
        {
            var now = policy.IsActive(VramRule);
            if (now != was) transitions++;
            was = now;
        });

        Assert.True(transitions <= 1, $"the rule changed state {transitions} times");
    }

    [Fact]
    public void On_a_noisy_plateau_below_the_threshold_it_never_acts()
    {
        Assert.Empty(Replay("vram-noisy-plateau.csv"));
    }
}
