using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Profiling;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Policies;

/// <summary><see cref="PolicyConfig.LearnBatchResponse"/>: <c>reduce_batch</c> from a learned VRAM model, the rules as fallback.</summary>
public sealed class LearnedBatchPolicySpecs
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);
    private const string Engine = "engine";

    private static IReadOnlyList<(double Seconds, LevelChange Change)> Run(bool learn, bool reportsContext)
    {
        var policy = new SubsystemPolicy(Engine, PolicyRule.Defaults, new PolicyConfig { LearnBatchResponse = learn });
        var profiler = new HostProfiler(new ProfilerConfig());
        var changes = new List<(double, LevelChange)>();
        var level = 1.0;
        for (var i = 1; i <= 4 * 120; i++)
        {
            // The engine model's VRAM with the context rising 0.01/s from 1.0 (held at 2.2 after 120 s).
            var t = i * 0.25;
            var context = Math.Min(2.2, 1.0 + 0.01 * t);
            var at = Start + TimeSpan.FromSeconds(t);
            profiler.Update(MetricNames.VramUtil, 0.40 + 0.006 * Math.Floor(64 * level) * context, at);
            if (reportsContext) profiler.Update(MetricNames.Labelled(MetricNames.ContextK, MetricNames.SubsystemLabel, Engine), context, at);
            foreach (var change in policy.Evaluate(profiler.Snapshot(at, Interval), at))
            {
                changes.Add((t, change));
                if (change.Action == ActionNames.ReduceBatch) level = change.Level;
            }
        }
        return changes;
    }

    [Fact]
    public void A_subsystem_that_reports_no_context_is_governed_by_the_rules_alone()
    {
        var rules = Run(learn: false, reportsContext: false);
        var learned = Run(learn: true, reportsContext: false);

        Assert.NotEmpty(rules);
        Assert.Equal(rules.Select(c => (c.Seconds, c.Change.Action, c.Change.Level)), learned.Select(c => (c.Seconds, c.Change.Action, c.Change.Level)));
    }

    [Fact]
    public void Once_confident_the_model_sets_the_level_and_its_reason_names_the_prediction_and_the_margin()
    {
        var learned = Run(learn: true, reportsContext: true).Where(c => c.Change.Action == ActionNames.ReduceBatch).ToList();

        var byModel = learned.Where(c => c.Change.Reason.Rule.StartsWith("model: vram_util = ", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(byModel);
        Assert.Contains("margin", byModel[0].Change.Reason.Rule);
        Assert.Equal("model", byModel[0].Change.Reason.Signal);
        // At 2.2k tokens: the largest batch under LearnedVramLimit 0.95 less the margin 0.02 (and the context's rise of
        // the last minute, 0.0025 a reading), (0.93 - 0.40) / (0.384 x 2.2025) x 64 = 40; the card holds 45.
        var last = learned[^1].Change.Level;
        Assert.InRange(InferenceBatch(last), 38, 40);
    }

    private static int InferenceBatch(double level) => (int)Math.Floor(64 * level);

    [Fact]
    public void A_registration_with_no_report_since_the_last_is_cut_to_the_hard_limit_by_the_registration_itself()
    {
        // Started at the full batch (no prior level), so that its first step can crash.
        var policy = new SubsystemPolicy(Engine, PolicyRule.Defaults, new PolicyConfig { LearnedInitialLevel = 1 });
        Assert.Empty(policy.Registered(Start));

        // It died in its first step and registers again 20 s later, having reported nothing.
        var change = Assert.Single(policy.Registered(Start.AddSeconds(20)));

        Assert.Equal((ActionNames.ReduceBatch, 1.0, 0.5), (change.Action, change.PreviousLevel, change.Level));
        Assert.Equal(SubsystemPolicy.CrashSignal, change.Reason.Signal);
        Assert.Equal(0.5, policy.Levels[ActionNames.ReduceBatch]); // what the registration reply carries
    }

    [Fact]
    public void A_registration_after_the_subsystem_has_reported_is_no_crash()
    {
        var policy = new SubsystemPolicy(Engine, PolicyRule.Defaults, new PolicyConfig { LearnedInitialLevel = 1 });
        var profiler = new HostProfiler(new ProfilerConfig());
        policy.Registered(Start);
        var at = Start.AddSeconds(1);
        profiler.Update(MetricNames.VramUtil, 0.6, at);
        profiler.Update(MetricNames.Labelled(MetricNames.ContextK, MetricNames.SubsystemLabel, Engine), 1.0, at);
        policy.Evaluate(profiler.Snapshot(at, Interval), at);

        Assert.Empty(policy.Registered(Start.AddSeconds(20)));
        Assert.Equal(1.0, policy.Levels[ActionNames.ReduceBatch]);
    }

    [Fact]
    public void The_first_registration_before_any_report_carries_the_prior_level_and_names_it()
    {
        var policy = new SubsystemPolicy(Engine, PolicyRule.Defaults, new PolicyConfig { LearnedInitialLevel = 0.4 });
        policy.SetDeclaredReports([MetricNames.LatencyMs, MetricNames.ContextK]); // an engine whose memory grows with its context

        var change = Assert.Single(policy.Registered(Start));

        Assert.Equal((ActionNames.ReduceBatch, 1.0, 0.4), (change.Action, change.PreviousLevel, change.Level));
        Assert.Equal(SubsystemPolicy.LoadSignal, change.Reason.Signal);
        Assert.Contains("LearnedInitialLevel", change.Reason.Rule, StringComparison.Ordinal);
        Assert.Equal(0.4, policy.Levels[ActionNames.ReduceBatch]); // what the registration reply carries
    }

    [Fact]
    public void A_first_registration_that_does_not_say_it_reports_context_k_keeps_the_full_batch()
    {
        var silent = new SubsystemPolicy(Engine, PolicyRule.Defaults, new PolicyConfig());
        var other = new SubsystemPolicy(Engine, PolicyRule.Defaults, new PolicyConfig());
        other.SetDeclaredReports([MetricNames.LatencyMs, MetricNames.QueueDepth]);

        Assert.Empty(silent.Registered(Start));
        Assert.Empty(other.Registered(Start));
        Assert.Equal(1.0, other.Levels[ActionNames.ReduceBatch]);
    }

    [Fact]
    public void A_policy_restored_with_a_level_gets_no_prior_level_at_registration()
    {
        var policy = new SubsystemPolicy(Engine, PolicyRule.Defaults, new PolicyConfig());
        policy.Restore(ActionNames.ReduceBatch, new ActionState(0.8, Start.AddSeconds(-30)));

        Assert.Empty(policy.Registered(Start));
        Assert.Equal(0.8, policy.Levels[ActionNames.ReduceBatch]);
    }
    /// <summary>The planned rise (<see cref="LearnedModelStatus.Headroom"/>) after the engine reports these contexts, one per 0.25 s.</summary>
    private static double PlannedRiseAfter(IEnumerable<double> contexts)
    {
        var policy = new SubsystemPolicy(Engine, PolicyRule.Defaults, new PolicyConfig { LearnedInitialLevel = 0.5 });
        var profiler = new HostProfiler(new ProfilerConfig());
        var at = Start;
        foreach (var context in contexts)
        {
            at += Interval;
            var level = policy.Levels[ActionNames.ReduceBatch];
            profiler.Update(MetricNames.VramUtil, 0.40 + 0.006 * Math.Floor(64 * level) * context, at);
            profiler.Update(MetricNames.Labelled(MetricNames.ContextK, MetricNames.SubsystemLabel, Engine), context, at);
            policy.Evaluate(profiler.Snapshot(at, Interval), at);
        }
        return policy.Model!.Headroom;
    }

    [Fact]
    public void A_fall_below_every_context_reported_is_planned_for_as_a_rise_of_its_size()
    {
        // 2.9k from the start, then 1.6k: the context was never seen climbing from 1.6k to 2.9k, so a step back up may be as large.
        var afterTheFall = PlannedRiseAfter(Enumerable.Repeat(2.9, 40).Concat(Enumerable.Repeat(1.6, 40)));

        // 1.25 x the fall of 1.3k, faded by the 10 s since it was seen (half-life 300 s).
        Assert.True(afterTheFall is > 1.25 * 1.3 * 0.95 and <= 1.25 * 1.3, $"planned rise {afterTheFall}");
    }

    [Fact]
    public void A_fall_within_the_range_the_context_was_seen_climbing_is_not()
    {
        // A ramp 0.8k -> 2.6k over 45 s, then 0.8k at once (sawtooth): the climb was seen, its rises are what is planned.
        var ramp = Enumerable.Range(0, 180).Select(i => 0.8 + 1.8 * i / 180.0);
        var afterTheDrop = PlannedRiseAfter(ramp.Concat(Enumerable.Repeat(0.8, 20)));

        Assert.True(afterTheDrop < 0.1, $"planned rise {afterTheDrop}");
    }
}
