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

    [Fact]
    public void A_profile_older_than_the_last_by_more_than_the_clock_step_tolerance_is_a_clock_step_and_is_evaluated()
    {
        // Field case clock-steps-back: the host's wall clock steps back 30 s; the profiles after it must be evaluated.
        var latest = new LatestProfile();
        Assert.True(latest.Accept(At(10)));
        Assert.False(latest.Accept(At(9.5))); // within the tolerance (1 s): reordered, dropped
        Assert.True(latest.Accept(At(-20)));  // 30 s back: a clock step
        Assert.True(latest.Accept(At(-19.75)));
        Assert.False(latest.Accept(At(-19.75)));
        Assert.Equal(1, latest.ClockSteps);

        // While catching up, the profile after the step replaces the one waiting from before it.
        var catchingUp = new LatestProfile(TimeSpan.FromSeconds(2));
        Assert.True(catchingUp.Offer(At(10)));
        Assert.False(catchingUp.Offer(At(-20)));
        Assert.False(catchingUp.Offer(At(-19.75)));
        Assert.Equal(T0.AddSeconds(-19.75), catchingUp.Take()!.At);
        Assert.True(catchingUp.Offer(At(-19.5)));
    }
}
