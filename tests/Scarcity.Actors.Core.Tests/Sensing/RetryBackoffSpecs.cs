using Scarcity.Actors.Sensing;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Sensing;

public sealed class RetryBackoffSpecs
{
    private static readonly DateTimeOffset T0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_call_that_keeps_failing_is_tried_after_1_2_4_seconds_and_so_on_never_more_than_a_minute_apart()
    {
        var retry = new RetryBackoff();
        var attempts = new List<int>();

        for (var second = 0; second <= 600; second++)
        {
            var now = T0.AddSeconds(second);
            if (!retry.IsDue(now)) continue;
            attempts.Add(second);
            retry.Failed(now);
        }

        Assert.Equal([0, 1, 3, 7, 15, 31, 63, 123, 183, 243, 303, 363, 423, 483, 543], attempts);
        Assert.Equal(15, retry.Failures);
    }

    [Fact]
    public void An_answer_starts_the_next_run_of_failures_from_one_second_again()
    {
        var retry = new RetryBackoff();
        retry.Failed(T0);
        retry.Failed(T0.AddSeconds(1));
        retry.Failed(T0.AddSeconds(3));

        retry.Succeeded();
        var dueAfterSuccess = retry.IsDue(T0.AddSeconds(3));
        retry.Failed(T0.AddSeconds(10));

        Assert.True(dueAfterSuccess);
        Assert.False(retry.IsDue(T0.AddSeconds(10.5)));
        Assert.True(retry.IsDue(T0.AddSeconds(11)));
    }

    [Fact]
    public void A_clock_that_steps_back_makes_the_retry_due_rather_than_pushing_it_out_by_the_step()
    {
        var retry = new RetryBackoff();
        for (var i = 0; i < 6; i++) retry.Failed(T0); // next try 32 s on

        Assert.False(retry.IsDue(T0.AddSeconds(10)));
        Assert.True(retry.IsDue(T0.AddSeconds(-30)));
    }
}
