using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Profiling;
using Scarcity.Actors.Sensing;

namespace Scarcity.Actors.Replay;

/// <summary>A level change found by a replay, at the trace time of the sample that caused it.</summary>
/// <param name="At">Trace time of the sample.</param>
/// <param name="Change">The change.</param>
public sealed record ReplayedDecision(TimeSpan At, LevelChange Change);

/// <summary>
/// Replays recorded telemetry through the same profiler and policy classes the actors use, faster than real time:
/// what would the governor have done on this trace, and when?
/// </summary>
public static class TelemetryReplay
{
    private static readonly DateTimeOffset Epoch = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Replays <paramref name="source"/> for one subsystem governed by <paramref name="rules"/>.</summary>
    /// <param name="source">The recorded readings; an offset may go backwards, as a wall clock stepped back by NTP does.</param>
    /// <param name="rules">The subsystem's rules.</param>
    /// <param name="profilerConfig">Smoothing and forecasting.</param>
    /// <param name="policyConfig">How levels move.</param>
    /// <param name="interval">The sampling interval, for staleness.</param>
    /// <param name="afterEachSample">Called after each sample is evaluated.</param>
    /// <param name="notice">Hears the profiler's notices (clock steps, readings out of order).</param>
    public static IReadOnlyList<ReplayedDecision> Run(
        IClockedSensorSource source, IReadOnlyList<PolicyRule> rules, ProfilerConfig profilerConfig, PolicyConfig policyConfig,
        TimeSpan interval, Action<TimeSpan, SubsystemPolicy>? afterEachSample = null, Action<string>? notice = null)
    {
        var profiler = new HostProfiler(profilerConfig, notice);
        var policy = new SubsystemPolicy("replay", rules, policyConfig);
        var buffer = new MetricBuffer();
        var decisions = new List<ReplayedDecision>();
        while (source.HasMore)
        {
            var offset = source.NextOffset;
            var at = Epoch + offset;
            buffer.Clear();
            source.Sample(buffer, at);
            foreach (var v in buffer.Values)
                if (double.IsFinite(v.Value)) profiler.Update(v.Metric, v.Value, at);
            foreach (var change in policy.Evaluate(profiler.Snapshot(at, interval), at))
                decisions.Add(new ReplayedDecision(offset, change));
            afterEachSample?.Invoke(offset, policy);
        }
        return decisions;
    }
}
