using System.Collections.Immutable;
using Scarcity.Actors.Client;
using Scarcity.Actors.Contracts;
using Xunit;

namespace Scarcity.Actors.Client.Tests;

public sealed class ThrottleSequencerSpecs
{
    private static readonly ThrottleReason Reason = new("rule", MetricNames.VramUtil, "raw", 0.9, 0.9, 0.85);

    private static Throttle T(long sequence, double level, string action = ActionNames.ReduceBatch) =>
        new("engine", action, level, sequence, Reason, "h", DateTimeOffset.UnixEpoch);

    private static ThrottleSequencer New() => new([ActionNames.ReduceBatch, ActionNames.Throttle]);

    [Fact]
    public void Throttles_apply_in_sequence_order_and_anything_not_newer_is_stale()
    {
        var sequencer = New();

        Assert.Equal(ThrottleVerdict.Apply, sequencer.Check(T(1, 0.5)));
        sequencer.Complete(T(1, 0.5), applied: true);
        Assert.Equal(ThrottleVerdict.Apply, sequencer.Check(T(3, 0.25)));
        sequencer.Complete(T(3, 0.25), applied: true);

        Assert.Equal(ThrottleVerdict.Stale, sequencer.Check(T(3, 0.25)));  // duplicate (a retry)
        Assert.Equal(ThrottleVerdict.Stale, sequencer.Check(T(2, 0.5)));   // reordered, older
        Assert.Contains("not above the last applied seq 3", sequencer.StaleDetail(T(2, 0.5)));
        Assert.Equal(0.25, sequencer.LevelOf(ActionNames.ReduceBatch));
        Assert.Equal(1.0, sequencer.LevelOf(ActionNames.Throttle));
    }

    [Fact]
    public void An_unknown_action_is_reported_and_a_failed_handler_consumes_the_sequence_but_keeps_the_level()
    {
        var sequencer = New();

        Assert.Equal(ThrottleVerdict.UnknownAction, sequencer.Check(T(1, 0.5, "flush_cache")));
        sequencer.Complete(T(2, 0.5), applied: false);

        Assert.Equal(2, sequencer.LastApplied);
        Assert.Equal(1.0, sequencer.LevelOf(ActionNames.ReduceBatch));
        Assert.Equal(ThrottleVerdict.Stale, sequencer.Check(T(2, 0.5)));
    }

    [Fact]
    public void A_registration_sets_the_last_sequence_even_lower_and_returns_only_the_levels_that_change()
    {
        var sequencer = New();
        sequencer.Complete(T(7, 0.5), applied: true);

        var changes = sequencer.Register(new SubsystemRegistered("engine",
            ImmutableDictionary<string, double>.Empty.Add(ActionNames.ReduceBatch, 0.5).Add(ActionNames.Throttle, 0.8).Add("unknown", 0.1), 5));

        Assert.Equal(5, sequencer.LastApplied); // the governor's word wins: it may have lost its newest decisions
        var change = Assert.Single(changes);
        Assert.Equal(ActionNames.Throttle, change.Key);
        Assert.Equal(0.8, change.Value);
        Assert.Equal(ThrottleVerdict.Apply, sequencer.Check(T(6, 0.4)));
    }
}
