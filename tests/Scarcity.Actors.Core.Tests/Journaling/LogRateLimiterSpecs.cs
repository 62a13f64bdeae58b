using Scarcity.Actors.Journaling;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Journaling;

public sealed class LogRateLimiterSpecs
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 22, 0, 0, TimeSpan.Zero);

    [Fact]
    public void One_line_per_distinct_error_per_interval_with_the_repeats_counted_in_the_next()
    {
        var limiter = new LogRateLimiter(TimeSpan.FromSeconds(30));

        var lines = Enumerable.Range(0, 60).Count(s => limiter.ShouldLog("connection refused", T0.AddSeconds(s), out _));
        var next = limiter.ShouldLog("connection refused", T0.AddSeconds(61), out var suppressed);

        Assert.Equal(2, lines); // at 0 s and at 30 s
        Assert.True(next);
        Assert.Equal(29, suppressed); // 31..59, after the line at 30 s
    }

    [Fact]
    public void Another_error_gets_its_own_line()
    {
        var limiter = new LogRateLimiter(TimeSpan.FromSeconds(30));
        limiter.ShouldLog("connection refused", T0, out _);

        Assert.True(limiter.ShouldLog("timeout", T0.AddSeconds(1), out var suppressed));
        Assert.Equal(0, suppressed);
        Assert.False(limiter.ShouldLog("connection refused", T0.AddSeconds(2), out _));
    }

    [Fact]
    public void A_non_positive_interval_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LogRateLimiter(TimeSpan.Zero));
    }
}
