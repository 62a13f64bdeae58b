using System.Collections.Immutable;
using Scarcity.Actors.Actuation;
using Scarcity.Actors.Contracts;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Actuation;

public sealed class LatestProfileSpecs
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static HostProfile At(double seconds) =>
        new("gpu-01", T0.AddSeconds(seconds), PressureLevel.Green, ImmutableDictionary<string, MetricEstimate>.Empty);

    [Fact]
    public void A_backlog_offered_before_the_take_yields_only_the_newest_profile_and_counts_the_rest()
    {
        var latest = new LatestProfile();

        var schedules = Enumerable.Range(1, 60).Select(i => latest.Offer(At(i * 0.25))).ToList();

        Assert.True(schedules[0]); // the first one asks for a take; the others wait for it
        Assert.All(schedules.Skip(1), Assert.False);
        Assert.Equal(T0.AddSeconds(15), latest.Take()!.At);
        Assert.Null(latest.Take());
        Assert.Equal(59, latest.Skipped);
    }

    [Fact]
    public void A_profile_no_newer_than_the_last_taken_or_the_one_waiting_is_dropped()
    {
        var latest = new LatestProfile();
        latest.Offer(At(10));
        latest.Take();

        Assert.False(latest.Offer(At(10))); // the same profile twice
        Assert.False(latest.Offer(At(9)));  // reordered
        Assert.Null(latest.Take());
        Assert.True(latest.Offer(At(11)));
        Assert.False(latest.Offer(At(10.5))); // older than the one waiting
        Assert.Equal(T0.AddSeconds(11), latest.Take()!.At);
        Assert.Equal(3, latest.Skipped);
    }

    [Fact]
    public void Outside_a_catch_up_every_newer_profile_is_evaluated_and_an_older_one_is_dropped_until_a_reset()
    {
        var latest = new LatestProfile();

        Assert.True(latest.Accept(At(1)));
        Assert.True(latest.Accept(At(2)));
        Assert.False(latest.Accept(At(2)));
        Assert.False(latest.Accept(At(1.5)));
        latest.Reset(); // the subsystem moved to another host
        Assert.True(latest.Accept(At(0.5)));
        Assert.Equal(2, latest.Skipped);
    }
}
