using Scarcity.Actors.Actuation;
using Scarcity.Actors.Contracts;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Actuation;

public sealed class ThrottleDeliverySpecs
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly ThrottleReason Reason = new("vram_util raw > 0.85 -> reduce_batch x0.5", MetricNames.VramUtil, "raw", 0.95, 0.95, 0.85);

    private static ActuatorConfig Config(int silentAfter = 5) => new()
    {
        AckTimeout = TimeSpan.FromSeconds(1), MaxBackoff = TimeSpan.FromSeconds(10), SilentAfterAttempts = silentAfter,
    };

    private static Throttle Throttle(long sequence, string action = ActionNames.ReduceBatch, double level = 0.5) =>
        new("engine", action, level, sequence, Reason, "gpu-01", T0);

    private static DateTimeOffset At(double seconds) => T0.AddSeconds(seconds);

    // The actor's retry tick: every AckTimeout / 4 = 250 ms.
    private static List<(double At, Throttle Throttle)> RunTicks(ThrottleDelivery delivery, double untilSeconds, double tickSeconds = 0.25)
    {
        var sent = new List<(double, Throttle)>();
        for (var ticks = 1; ticks * tickSeconds <= untilSeconds; ticks++)
            foreach (var throttle in delivery.Retry(At(ticks * tickSeconds)).Resend)
                sent.Add((ticks * tickSeconds, throttle));
        return sent;
    }

    [Fact]
    public void A_tracked_Throttle_waits_AckTimeout_for_its_ack_then_is_resent_unchanged()
    {
        var delivery = new ThrottleDelivery(Config());
        var throttle = Throttle(1);
        delivery.Track(throttle, At(0));

        var early = delivery.Retry(At(0.999));
        var due = delivery.Retry(At(1.0));

        Assert.Empty(early.Resend);
        Assert.Same(throttle, Assert.Single(due.Resend));
        var pending = Assert.Single(delivery.Pending);
        Assert.Equal(2, pending.Attempts);
        Assert.Equal(At(3), pending.DueAt); // the second wait is 2 x AckTimeout
    }

    [Fact]
    public void It_has_something_pending_from_a_tracked_Throttle_until_its_ack_or_a_registration_settles_it()
    {
        // What the actor's retry tick runs for: it is armed by a Throttle and stops at the first tick with nothing pending.
        var delivery = new ThrottleDelivery(Config());
        Assert.False(delivery.HasPending);

        delivery.Track(Throttle(1), At(0));
        delivery.Track(Throttle(2, ActionNames.Throttle), At(0));
        Assert.True(delivery.HasPending);
        delivery.Acknowledge(1);
        Assert.True(delivery.HasPending); // seq 2 of another action still waits
        delivery.Acknowledge(2);
        Assert.False(delivery.HasPending);

        delivery.Track(Throttle(3), At(1));
        delivery.Restart(acknowledgedUpTo: 3);
        Assert.False(delivery.HasPending);
    }

    [Fact]
    public void Retries_back_off_exponentially_from_AckTimeout_and_are_capped_at_MaxBackoff()
    {
        var delivery = new ThrottleDelivery(Config(silentAfter: 100));
        delivery.Track(Throttle(1), At(0));

        var sent = RunTicks(delivery, 60);

        // waits 1, 2, 4, 8 s, then MaxBackoff (10 s) for ever
        Assert.Equal([1.0, 3, 7, 15, 25, 35, 45, 55], sent.Select(s => s.At));
        Assert.All(sent, s => Assert.Equal(1, s.Throttle.Sequence));
    }

    [Theory]
    [InlineData(1, 1.0)]
    [InlineData(2, 2.0)]
    [InlineData(3, 4.0)]
    [InlineData(4, 8.0)]
    [InlineData(5, 10.0)]
    [InlineData(40, 10.0)]
    [InlineData(5000, 10.0)] // 2^4999 overflows to infinity; the cap still holds
    public void The_wait_after_attempt_n_is_AckTimeout_times_2_to_the_n_minus_1_capped_at_MaxBackoff(int attempts, double seconds)
    {
        var delivery = new ThrottleDelivery(Config());

        var backoff = delivery.Backoff(attempts);

        Assert.Equal(TimeSpan.FromSeconds(seconds), backoff);
    }

    [Fact]
    public void A_retry_is_due_from_the_time_of_the_round_that_sent_it_not_from_when_it_was_due()
    {
        var delivery = new ThrottleDelivery(Config());
        delivery.Track(Throttle(1), At(0));

        delivery.Retry(At(1.7)); // the tick came late

        Assert.Equal(At(3.7), Assert.Single(delivery.Pending).DueAt);
    }

    [Fact]
    public void A_newer_Throttle_of_an_action_supersedes_the_pending_one_and_starts_at_attempt_1()
    {
        var delivery = new ThrottleDelivery(Config());
        delivery.Track(Throttle(1, level: 0.5), At(0));
        delivery.Retry(At(1));
        delivery.Retry(At(3));

        var newer = Throttle(2, level: 0.25);
        delivery.Track(newer, At(4));

        var pending = Assert.Single(delivery.Pending);
        Assert.Same(newer, pending.Throttle);
        Assert.Equal(1, pending.Attempts);
        Assert.Equal(At(5), pending.DueAt);
        Assert.Equal([2L], RunTicks(delivery, 5).Select(s => s.Throttle.Sequence).Distinct());
    }

    [Fact]
    public void Throttles_of_different_actions_wait_side_by_side_each_on_its_own_schedule()
    {
        var delivery = new ThrottleDelivery(Config());
        delivery.Track(Throttle(1, ActionNames.ReduceBatch), At(0));
        delivery.Track(Throttle(2, ActionNames.Throttle), At(0.5));

        var first = delivery.Retry(At(1));
        var second = delivery.Retry(At(1.5));

        Assert.Equal([1L], first.Resend.Select(t => t.Sequence));
        Assert.Equal([2L], second.Resend.Select(t => t.Sequence));
        Assert.Equal(2, delivery.Pending.Count);
    }

    [Fact]
    public void An_ack_settles_every_pending_Throttle_at_or_below_its_sequence_and_leaves_newer_ones_pending()
    {
        var delivery = new ThrottleDelivery(Config());
        delivery.Track(Throttle(3, ActionNames.ReduceBatch), At(0));
        delivery.Track(Throttle(4, ActionNames.ShedLoad), At(0));
        delivery.Track(Throttle(5, ActionNames.Throttle), At(0));

        var settled = delivery.Acknowledge(4);

        Assert.Equal(2, settled);
        Assert.Equal(5, Assert.Single(delivery.Pending).Throttle.Sequence);
        Assert.Equal(4, delivery.LastAcked);
        Assert.Equal([5L], delivery.Retry(At(1)).Resend.Select(t => t.Sequence));
    }

    [Fact]
    public void An_ack_of_a_superseded_sequence_does_not_settle_the_newer_Throttle_of_that_action()
    {
        var delivery = new ThrottleDelivery(Config());
        delivery.Track(Throttle(1), At(0));
        delivery.Track(Throttle(2), At(0.5));

        var settled = delivery.Acknowledge(1);

        Assert.Equal(0, settled);
        Assert.Equal(2, Assert.Single(delivery.Pending).Throttle.Sequence);
    }

    [Fact]
    public void LastAcked_only_rises_an_older_ack_arriving_late_leaves_it()
    {
        var delivery = new ThrottleDelivery(Config());

        delivery.Acknowledge(5);
        delivery.Acknowledge(3);

        Assert.Equal(5, delivery.LastAcked);
    }

    [Fact]
    public void After_an_ack_nothing_is_resent()
    {
        var delivery = new ThrottleDelivery(Config());
        delivery.Track(Throttle(1), At(0));
        delivery.Retry(At(1));

        delivery.Acknowledge(1);

        Assert.Empty(RunTicks(delivery, 60));
        Assert.Empty(delivery.Pending);
    }

    [Fact]
    public void The_subsystem_turns_silent_at_SilentAfterAttempts_is_reported_once_and_retries_go_on()
    {
        var delivery = new ThrottleDelivery(Config(silentAfter: 3));
        delivery.Track(Throttle(1), At(0));

        var second = delivery.Retry(At(1));  // attempt 2
        var third = delivery.Retry(At(3));   // attempt 3: silent
        var fourth = delivery.Retry(At(7));  // attempt 4

        Assert.Null(second.BecameSilent);
        var silent = Assert.IsType<PendingThrottle>(third.BecameSilent);
        Assert.Equal(1, silent.Throttle.Sequence);
        Assert.Equal(3, silent.Attempts);
        Assert.Null(fourth.BecameSilent);
        Assert.Single(fourth.Resend);
        Assert.True(delivery.IsSilent);
    }

    [Fact]
    public void Two_Throttles_reaching_the_limit_in_one_round_make_one_report()
    {
        var delivery = new ThrottleDelivery(Config(silentAfter: 2));
        delivery.Track(Throttle(1, ActionNames.ReduceBatch), At(0));
        delivery.Track(Throttle(2, ActionNames.Throttle), At(0));

        var round = delivery.Retry(At(1));

        Assert.Equal(2, round.Resend.Count);
        Assert.Equal(1, round.BecameSilent?.Throttle.Sequence);
    }

    [Fact]
    public void An_ack_clears_silence_so_a_Throttle_still_unacknowledged_reports_it_again_at_its_next_attempt()
    {
        var delivery = new ThrottleDelivery(Config(silentAfter: 2));
        delivery.Track(Throttle(1, ActionNames.ReduceBatch), At(0));
        delivery.Track(Throttle(2, ActionNames.Throttle), At(0));
        Assert.NotNull(delivery.Retry(At(1)).BecameSilent);

        delivery.Acknowledge(1); // the subsystem answers, but seq 2 stays pending
        Assert.False(delivery.IsSilent);
        var next = delivery.Retry(At(3));

        Assert.Equal(2, next.BecameSilent?.Throttle.Sequence);
        Assert.Equal(3, next.BecameSilent?.Attempts);
    }

    [Fact]
    public void A_registration_restart_drops_every_pending_Throttle_clears_silence_and_sets_LastAcked_even_lower()
    {
        var delivery = new ThrottleDelivery(Config(silentAfter: 2));
        delivery.Track(Throttle(7), At(0));
        delivery.Acknowledge(6);
        delivery.Retry(At(1));
        Assert.True(delivery.IsSilent);

        delivery.Restart(acknowledgedUpTo: 4); // a governor that lost its newest decisions replies with seq 4

        Assert.Empty(delivery.Pending);
        Assert.False(delivery.IsSilent);
        Assert.Equal(4, delivery.LastAcked);
        Assert.Empty(RunTicks(delivery, 30));
    }

    [Fact]
    public void With_nothing_pending_a_round_sends_nothing_and_reports_nothing()
    {
        var delivery = new ThrottleDelivery(Config(silentAfter: 1));

        var round = delivery.Retry(At(100));

        Assert.Empty(round.Resend);
        Assert.Null(round.BecameSilent);
        Assert.False(delivery.IsSilent);
        Assert.Equal(0, delivery.LastAcked);
    }

    [Fact]
    public void Track_says_when_it_supersedes_an_unacked_Throttle_of_the_same_action_and_only_then()
    {
        var delivery = new ThrottleDelivery(Config());

        var first = delivery.Track(Throttle(1), At(0));
        var otherAction = delivery.Track(Throttle(2, ActionNames.Throttle), At(0));
        var newer = delivery.Track(Throttle(3), At(0.5));
        delivery.Acknowledge(3);
        var afterAck = delivery.Track(Throttle(4), At(1));

        Assert.False(first);
        Assert.False(otherAction);
        Assert.True(newer); // seq 1 will never be resent: counted as superseded
        Assert.False(afterAck);
    }
}
