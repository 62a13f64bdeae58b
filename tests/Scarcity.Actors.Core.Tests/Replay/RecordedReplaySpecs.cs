using System.Collections.Immutable;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Replay;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Replay;

/// <summary>Recorded telemetry through the profile and policy core: what a candidate would have decided.</summary>
public sealed class RecordedReplaySpecs
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    private static DRGConfig WithThreshold(double threshold) => new()
    {
        Policy = new PolicyConfig
        {
            // From the full batch: these specs compare when the rule's threshold first cuts, not the prior level.
            LearnedInitialLevel = 1,
            Policies = new Dictionary<string, List<PolicyRule>>
            {
                ["*"] = [new PolicyRule(MetricNames.VramUtil, threshold, "reduce_batch", 0.5) { Signal = SignalKind.Raw }],
            },
        },
    };

    // A VRAM ramp from 0.5 to 1.0 over 25 s, 4 samples a second, on a host with one registered subsystem.
    private static List<TelemetryRecord> Ramp()
    {
        var records = new List<TelemetryRecord>
        {
            TelemetryRecord.Of(new RegisterSubsystem("engine", "gpu-01", 1, ["reduce_batch"], Akka.Actor.ActorRefs.Nobody), T0),
        };
        for (var i = 1; i <= 100; i++)
            records.Add(TelemetryRecord.Of(new Sample("gpu-01", T0.AddSeconds(i * 0.25), [new(MetricNames.VramUtil, 0.5 + i * 0.005)], [])));
        return records;
    }

    [Fact]
    public void A_candidate_with_a_lower_threshold_decides_earlier()
    {
        var live = RecordedReplay.Run(Ramp(), WithThreshold(0.85));
        var candidate = RecordedReplay.Run(Ramp(), WithThreshold(0.7));

        var liveFirst = live.Decisions.First(d => d.Action == "reduce_batch");
        var candidateFirst = candidate.Decisions.First(d => d.Action == "reduce_batch");
        static DateTimeOffset FirstAbove(double threshold) => T0.AddSeconds(Enumerable.Range(1, 100).First(i => 0.5 + i * 0.005 > threshold) * 0.25);
        Assert.Equal(FirstAbove(0.7), candidateFirst.At);
        Assert.Equal(FirstAbove(0.85), liveFirst.At);
        Assert.True(candidateFirst.At < liveFirst.At.AddSeconds(-5));
        Assert.Equal(0.5, candidateFirst.Level);
        Assert.True(candidateFirst.Declared);
        Assert.Equal(101, candidate.Records);
    }

    [Fact]
    public void A_subsystem_decides_only_after_its_registration_and_a_registration_read_twice_counts_once()
    {
        var records = Ramp();
        var registration = records[0];
        records.RemoveAt(0);
        records.Insert(80, registration with { At = records[79].At }); // registered while VRAM was already high
        records.Insert(90, registration with { At = records[79].At }); // the same registration, carried at a segment's start

        var result = RecordedReplay.Run(records, WithThreshold(0.7));

        Assert.All(result.Decisions, d => Assert.True(d.At > records[79].At));
        Assert.Equal(100 + 1, result.Records);
    }

    [Fact]
    public void A_report_is_profiled_under_its_subsystem_label_and_a_stale_series_holds_the_level()
    {
        var config = new DRGConfig
        {
            Policy = new PolicyConfig
            {
                LatencyAdmission = false,
                Policies = new Dictionary<string, List<PolicyRule>> { ["*"] = [new PolicyRule(MetricNames.LatencyMs, 500, "shed_load", 0.5) { Signal = SignalKind.Raw }] },
            },
        };
        var records = new List<TelemetryRecord> { TelemetryRecord.Of(new RegisterSubsystem("engine", "gpu-01", 1, ["shed_load"], Akka.Actor.ActorRefs.Nobody), T0) };
        records.Add(TelemetryRecord.Of(new ReportMetrics("engine", "gpu-01", ImmutableDictionary<string, double>.Empty.Add(MetricNames.LatencyMs, 900), T0.AddSeconds(1))));
        records.Add(TelemetryRecord.EvaluatedAt("gpu-01", T0.AddSeconds(1)));

        var result = RecordedReplay.Run(records, config);

        var decision = Assert.Single(result.Decisions);
        Assert.Equal("shed_load", decision.Action);
        Assert.Contains("latency_ms", decision.Reason.Metric);
    }
}
