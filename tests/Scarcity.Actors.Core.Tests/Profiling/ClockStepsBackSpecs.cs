using System.Globalization;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Core.Tests.FieldCases;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Profiling;
using Scarcity.Actors.Replay;
using Scarcity.Actors.Sensing;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Profiling;

/// <summary>
/// Field case <c>clock-steps-back</c>: the wall clock steps back 30 s (NTP) in the middle of a run. Readings keep being
/// accepted (each series orders them on its own monotonic timeline), the 0.97 after the step is acted on, and a reading
/// that is rejected is counted and said, never dropped silently.
/// </summary>
public sealed class ClockStepsBackSpecs
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);
    private static readonly PolicyRule VramRule = PolicyRule.Defaults.Single(r => r.Metric == MetricNames.VramUtil);
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Clock_steps_back_readings_keep_being_accepted_and_the_097_is_acted_on()
    {
        using var source = new WallClockReadings(FieldCase.File("clock-steps-back", "readings-clock-step.csv"));
        var notices = new List<string>();
        var levels = new List<(TimeSpan At, double Level)>();

        // The case's readings stay at 0.97 whatever the level: without the effect check, which would hold after two cuts.
        var decisions = TelemetryReplay.Run(source, [VramRule], new ProfilerConfig(), new PolicyConfig { IneffectiveAfterCuts = 0 }, Interval,
            (at, policy) => levels.Add((at, policy.Levels[ActionNames.ReduceBatch])), notices.Add);

        // Nothing before the step (0.50 for 10 s); at the first 0.97 reading after it, reduce_batch is cut.
        var first = decisions[0];
        Assert.Equal(TimeSpan.FromSeconds(-20), first.At);
        Assert.Equal(0.5, first.Change.Level);
        Assert.True(first.Change.Reason.Value > 0.85, $"acted on {first.Change.Reason.Value}");
        // ... and escalation goes on, once per cooldown measured on the stepped clock.
        Assert.Equal([-20.0, -15.0, -10.0, -5.0], decisions.Select(d => d.At.TotalSeconds));
        Assert.Equal(new PolicyConfig().MinLevel, levels[^1].Level, 9);
        var notice = Assert.Single(notices);
        Assert.Contains("the clock stepped back 29.75 s", notice, StringComparison.Ordinal);
    }

    [Fact]
    public void Clock_steps_back_every_reading_is_folded_in_and_the_level_and_trend_carry_over()
    {
        // A ramp of 0.02/s, 4 Hz; after 10 s the clock steps back 30 s and the ramp goes on.
        var profiler = new HostProfiler(new ProfilerConfig());
        for (var i = 0; i < 40; i++)
            Assert.True(profiler.Update(MetricNames.VramUtil, 0.30 + 0.005 * i, T0.AddSeconds(i * 0.25)));
        Assert.True(profiler.TryGetProfile(MetricNames.VramUtil, out var vram));
        var trendBefore = vram.Trend;

        for (var i = 40; i < 80; i++)
            Assert.True(profiler.Update(MetricNames.VramUtil, 0.30 + 0.005 * i, T0.AddSeconds(i * 0.25 - 30)));

        Assert.Equal(80, vram.Count);
        Assert.Equal(1, profiler.ClockStepReadings);
        Assert.Equal(0, profiler.OutOfOrderReadings);
        Assert.Equal(0.30 + 0.005 * 79, vram.Estimate, 0.002);
        Assert.Equal(trendBefore, vram.Trend, 0.002);
        Assert.Equal(0.02, vram.Trend, 0.002);
        Assert.Equal(T0.AddSeconds(79 * 0.25 - 30), vram.UpdatedAt);
        // Staleness runs on the new time: fresh now, stale three intervals after the last reading.
        Assert.False(profiler.Snapshot(vram.UpdatedAt, Interval)[MetricNames.VramUtil].Stale);
        Assert.True(profiler.Snapshot(vram.UpdatedAt + 4 * Interval, Interval)[MetricNames.VramUtil].Stale);
    }

    [Fact]
    public void Clock_steps_back_a_reading_out_of_order_is_rejected_counted_and_said_once_per_series()
    {
        var notices = new List<string>();
        var profiler = new HostProfiler(new ProfilerConfig(), notices.Add);
        profiler.Update(MetricNames.CpuUtil, 0.5, T0.AddSeconds(1));
        profiler.Update(MetricNames.MemUtil, 0.5, T0.AddSeconds(1));

        Assert.False(profiler.Update(MetricNames.CpuUtil, 0.9, T0.AddSeconds(0.5)));
        Assert.False(profiler.Update(MetricNames.CpuUtil, 0.9, T0.AddSeconds(0.75)));
        Assert.False(profiler.Update(MetricNames.MemUtil, 0.9, T0.AddSeconds(0.25)));

        Assert.Equal(3, profiler.OutOfOrderReadings);
        Assert.Equal(2, notices.Count);
        Assert.Contains(notices, n => n.StartsWith("cpu_util: a reading at", StringComparison.Ordinal) && n.Contains("0.5 s older", StringComparison.Ordinal));
        Assert.Contains(notices, n => n.StartsWith("mem_util: a reading at", StringComparison.Ordinal));
        Assert.True(profiler.TryGetProfile(MetricNames.CpuUtil, out var cpu));
        Assert.Equal(0.5, cpu.Raw);
    }

    [Fact]
    public void Clock_steps_back_one_notice_per_step_not_per_series()
    {
        var notices = new List<string>();
        var profiler = new HostProfiler(new ProfilerConfig(), notices.Add);
        string[] series = [MetricNames.CpuUtil, MetricNames.MemUtil, MetricNames.VramUtil];
        foreach (var s in series) profiler.Update(s, 0.5, T0.AddSeconds(60));

        foreach (var s in series) Assert.True(profiler.Update(s, 0.6, T0));
        foreach (var s in series) Assert.True(profiler.Update(s, 0.6, T0.AddSeconds(0.25)));
        foreach (var s in series) Assert.True(profiler.Update(s, 0.7, T0.AddSeconds(-120)));

        Assert.Equal(6, profiler.ClockStepReadings);
        Assert.Equal(2, notices.Count);
    }

    [Fact]
    public void Clock_steps_back_a_cooldown_waits_its_own_length_after_the_step_not_the_step_as_well()
    {
        var rule = new PolicyRule(MetricNames.VramUtil, 0.85, ActionNames.ReduceBatch, 0.5) { Signal = SignalKind.Raw };
        var policy = new SubsystemPolicy("engine", [rule], new PolicyConfig { Cooldown = TimeSpan.FromSeconds(5), IneffectiveAfterCuts = 0 });
        var hot = new Dictionary<string, MetricEstimate> { [MetricNames.VramUtil] = new(0.97, 0.97, 0.97, 0, 0.97, 0, T0, false) };

        Assert.Single(policy.Evaluate(hot, T0.AddSeconds(10)));
        // The clock steps back 30 s just after the escalation, and the pressure stays.
        var changes = new List<double>();
        for (var t = -20.0; t <= -10; t += 0.25)
            if (policy.Evaluate(hot, T0.AddSeconds(t)).Count > 0) changes.Add(t);

        Assert.Equal([-15.0, -10.0], changes);
    }

    /// <summary>The case's readings: <c>wallclock_offset_s,metric,value</c>, offsets as the wall clock read them (they step back).</summary>
    private sealed class WallClockReadings : IClockedSensorSource
    {
        private readonly (TimeSpan At, string Metric, double Value)[] _rows;
        private int _next;

        public WallClockReadings(string path) =>
            _rows = File.ReadLines(path).Skip(1).Where(l => l.Length > 0).Select(l => l.Split(','))
                .Select(c => (TimeSpan.FromSeconds(double.Parse(c[0], CultureInfo.InvariantCulture)), c[1],
                    double.Parse(c[2], CultureInfo.InvariantCulture)))
                .ToArray();

        public string Name => "wall-clock readings";
        public bool HasMore => _next < _rows.Length;
        public TimeSpan NextOffset => _rows[Math.Min(_next, _rows.Length - 1)].At;

        public void Sample(MetricBuffer buffer, DateTimeOffset now)
        {
            var at = NextOffset;
            for (; _next < _rows.Length && _rows[_next].At == at; _next++) buffer.Add(_rows[_next].Metric, _rows[_next].Value);
        }

        public void Dispose()
        {
        }
    }
}
