using System.Globalization;
using System.Text;
using Microsoft.Extensions.Configuration;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Core.Tests.FieldCases;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Profiling;
using Scarcity.Actors.Replay;
using Scarcity.Actors.Sensing;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Policies;

/// <summary>
/// Field case <c>rule-metric-never-exists</c>: one rule of an action names a metric this host never has (no PSI, a MIG
/// GPU). A metric that has never been reported does not hold the action's level; one that was reported and went stale
/// still does. Replayed through the same profiler and policy classes as the reference traces.
/// </summary>
public sealed class RuleMetricNeverExistsSpecs
{
    private const string Case = "rule-metric-never-exists";
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    private static PolicyConfig CasePolicy() =>
        DRGConfig.Load(new ConfigurationBuilder().AddJsonFile(FieldCase.File(Case, "policy.json")).Build()).Policy;

    private static (IReadOnlyList<ReplayedDecision> Decisions, List<string> LastSkipped, Dictionary<double, double> Levels) Replay(
        IClockedSensorSource source, PolicyConfig policy)
    {
        List<string> skipped = [];
        var levels = new Dictionary<double, double>();
        var decisions = TelemetryReplay.Run(source, policy.RulesFor("replay"), new ProfilerConfig(), policy, Interval, (at, p) =>
        {
            skipped = [.. p.Skipped];
            levels[at.TotalSeconds] = p.Levels[ActionNames.Throttle];
        });
        return (decisions, skipped, levels);
    }

    [Fact]
    public void Rule_metric_never_exists_throttle_recovers_to_1_after_the_load_goes()
    {
        using var trace = new TraceSensorSource(FieldCase.File(Case, "trace-no-psi.csv"));

        var (decisions, skipped, levels) = Replay(trace, CasePolicy());

        var escalations = decisions.Where(d => d.Change.Level < d.Change.PreviousLevel).ToList();
        Assert.NotEmpty(escalations);
        Assert.All(escalations, d => Assert.True(d.At < TimeSpan.FromSeconds(10.25), $"escalated at {d.At} after the load went"));
        Assert.All(escalations, d => Assert.Equal(MetricNames.CpuUtil, d.Change.Reason.Metric));
        var last = decisions[^1].Change;
        Assert.Equal(1.0, last.Level);
        Assert.Equal("recovery", last.Reason.Rule);
        Assert.Equal(MetricNames.CpuUtil, last.Reason.Metric); // the reason names the rule with readings, not psi_cpu
        Assert.Equal(1.0, levels[600]);
        // Recovery starts RecoveryDelay after the release and steps once per cooldown: well within the first minute.
        Assert.True(decisions[^1].At < TimeSpan.FromSeconds(60), $"recovered to 1 only at {decisions[^1].At}");
        var why = Assert.Single(skipped);
        Assert.Contains("'psi_cpu' never reported on this host", why, StringComparison.Ordinal);
    }

    [Fact]
    public void Rule_metric_never_exists_a_metric_that_was_reported_and_went_stale_still_holds_the_level()
    {
        // Same load, but psi_cpu was reported for the first 10 s and then stopped (its file went away).
        var csv = new StringBuilder("t_seconds,metric,value\n");
        for (var i = 0; i <= 2400; i++)
        {
            var t = i * 0.25;
            csv.Append(CultureInfo.InvariantCulture, $"{t:0.00},cpu_util,{(t < 10 ? 0.95 : 0.20):0.00}\n");
            if (t < 10) csv.Append(CultureInfo.InvariantCulture, $"{t:0.00},psi_cpu,0.10\n");
        }
        using var trace = new TraceSensorSource(new StringReader(csv.ToString()), "trace-psi-goes-stale.csv");

        var (decisions, skipped, levels) = Replay(trace, CasePolicy());

        Assert.NotEmpty(decisions);
        Assert.All(decisions, d => Assert.True(d.Change.Level < d.Change.PreviousLevel, "a stale metric let the level recover"));
        Assert.True(levels[600] < 1);
        var why = Assert.Single(skipped);
        Assert.Contains("'psi_cpu' is stale; the level holds", why, StringComparison.Ordinal);
    }

    [Fact]
    public void Rule_metric_never_exists_a_labelled_gpu_metric_of_a_mig_gpu_does_not_hold_the_level_either()
    {
        // GPU 0 is MIG-partitioned: it reports vram but never gpu_util.
        var vram = MetricNames.Labelled(MetricNames.VramUtil, MetricNames.GpuLabel, "0");
        var gpuUtil = MetricNames.Labelled(MetricNames.GpuUtil, MetricNames.GpuLabel, "0");
        var rules = new[]
        {
            new PolicyRule(vram, 0.85, ActionNames.ReduceBatch, 0.5) { Signal = SignalKind.Raw, Release = 0.80 },
            new PolicyRule(gpuUtil, 0.95, ActionNames.ReduceBatch, 0.5) { Signal = SignalKind.Raw },
        };
        var config = new PolicyConfig();
        var policy = new SubsystemPolicy("engine", rules, config);
        var profiler = new HostProfiler(new ProfilerConfig());
        var t0 = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var changes = new List<LevelChange>();

        for (var t = 0.0; t <= 120; t += 0.25)
        {
            var at = t0.AddSeconds(t);
            profiler.Update(vram, t < 5 ? 0.95 : 0.50, at);
            changes.AddRange(policy.Evaluate(profiler.Snapshot(at, Interval), at));
        }

        Assert.Equal(0.5, changes[0].Level);
        Assert.Equal(1.0, policy.Levels[ActionNames.ReduceBatch]);
        Assert.Contains(policy.Skipped, s => s.Contains($"'{gpuUtil}' never reported on this host", StringComparison.Ordinal));
    }
}
