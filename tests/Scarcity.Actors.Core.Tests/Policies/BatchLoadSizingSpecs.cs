using Scarcity.Actors.Policies;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Policies;

/// <summary>The level of <c>reduce_batch</c> the load needs: probed down while the engine idles, raised by a queue.</summary>
public sealed class BatchLoadSizingSpecs
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    [Fact]
    public void An_engine_that_idles_is_probed_lower_once_per_probe_interval()
    {
        var sizing = new BatchLoadSizing(minLevel: 0.1);

        // 2.75 s idle at level 1 (1k tokens, 50 ms of prefill, no queue): not yet.
        for (var i = 0; i < 12; i++) sizing.Observe(1, 1.0, 50, 0, admittingAll: true, Start + i * Interval);
        Assert.Equal(1, sizing.Level);

        // At 3 s: one probe, then none for another 3 s.
        sizing.Observe(1, 1.0, 50, 0, true, Start + 12 * Interval);
        Assert.Equal(BatchLoadSizing.ProbeFactor, sizing.Level, 9);
        sizing.Observe(1, 1.0, 50, 0, true, Start + 13 * Interval);
        Assert.Equal(BatchLoadSizing.ProbeFactor, sizing.Level, 9);
        Assert.False(sizing.Raised);
    }

    [Fact]
    public void A_queue_raises_the_level_by_the_admitted_rate_over_the_service_rate_with_the_margin()
    {
        var sizing = new BatchLoadSizing(minLevel: 0.1);
        var at = Start;
        // 25 s idle (50 ms of latency per 1k tokens): probed down to 0.85^8.
        for (var i = 0; i < 100; i++) sizing.Observe(sizing.Level, 1.0, 50, 0, true, at += Interval);
        var level = sizing.Level;
        Assert.Equal(Math.Pow(BatchLoadSizing.ProbeFactor, 8), level, 9);

        // A queue of 0.6 where there was none, at 110 ms: service 0.6 / 0.06 s = 10/s, admitted 0.6 / 0.25 s + 10/s = 12.4/s.
        sizing.Observe(level, 1.0, 110, 0.6, true, at += Interval);

        Assert.True(sizing.Raised);
        Assert.Equal(10, sizing.LastServiceRate, 6);
        Assert.Equal(12.4, sizing.LastAdmittedRate, 6);
        Assert.Equal(level * BatchLoadSizing.Margin * 1.24, sizing.Level, 9);

        // The raise shows in the queue before another: the next reading does not raise again.
        sizing.Observe(sizing.Level, 1.0, 150, 1.0, true, at += Interval);
        Assert.False(sizing.Raised);
    }

    [Fact]
    public void While_admission_turns_requests_away_the_load_needs_everything()
    {
        var sizing = new BatchLoadSizing(minLevel: 0.1, initialLevel: 0.5);

        sizing.Observe(0.5, 1.0, 100, 0, admittingAll: false, Start);

        Assert.Equal(1, sizing.Level);
        Assert.True(sizing.Raised);
    }

    [Fact]
    public void It_never_probes_below_its_lowest_level()
    {
        var sizing = new BatchLoadSizing(minLevel: 0.3);

        for (var i = 0; i < 400; i++) sizing.Observe(sizing.Level, 1.0, 50, 0, true, Start + i * Interval);

        Assert.Equal(0.3, sizing.Level, 9);
    }
}
