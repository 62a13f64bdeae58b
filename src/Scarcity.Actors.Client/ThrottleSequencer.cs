using System.Collections.Immutable;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Client;

/// <summary>What to do with one incoming <see cref="Throttle"/>.</summary>
internal enum ThrottleVerdict
{
    /// <summary>Newer than anything applied and for a known action: run the handler.</summary>
    Apply,
    /// <summary>Sequence at or below the last applied (a retry, a duplicate or a reordered message): ack, do nothing.</summary>
    Stale,
    /// <summary>No handler for the action: ack with Applied = false.</summary>
    UnknownAction,
}

/// <summary>
/// The client's bookkeeping of sequences and levels, without Akka: Throttles apply in sequence order, anything at or
/// below the last applied sequence is stale, and a (re)registration resets both from the governor's reply.
/// Not thread-safe: one actor owns it; <see cref="Levels"/> is an immutable snapshot safe to publish.
/// </summary>
internal sealed class ThrottleSequencer(IEnumerable<string> actions)
{
    private readonly ImmutableHashSet<string> _actions = actions.ToImmutableHashSet(StringComparer.Ordinal);

    /// <summary>The newest sequence applied (or consumed by a failed handler), or taken from the last registration.</summary>
    public long LastApplied { get; private set; }

    /// <summary>Current level per declared action; every action starts at 1.</summary>
    public ImmutableDictionary<string, double> Levels { get; private set; } =
        ImmutableDictionary<string, double>.Empty.WithComparers(StringComparer.Ordinal);

    /// <summary>The level of <paramref name="action"/>, 1 when never restricted.</summary>
    public double LevelOf(string action) => Levels.TryGetValue(action, out var level) ? level : 1.0;

    /// <summary>Classifies a Throttle; changes nothing.</summary>
    public ThrottleVerdict Check(Throttle throttle)
    {
        if (throttle.Sequence <= LastApplied) return ThrottleVerdict.Stale;
        return _actions.Contains(throttle.Action) ? ThrottleVerdict.Apply : ThrottleVerdict.UnknownAction;
    }

    /// <summary>The ack detail of a stale Throttle.</summary>
    public string StaleDetail(Throttle throttle) =>
        $"stale: seq {throttle.Sequence} is not above the last applied seq {LastApplied}";

    /// <summary>
    /// Records that the Throttle's sequence is consumed; its level only when <paramref name="applied"/>. A failed handler
    /// still consumes the sequence, so a later retry of it is stale and the next Throttle carries the absolute level anew.
    /// </summary>
    public void Complete(Throttle throttle, bool applied)
    {
        if (throttle.Sequence <= LastApplied) return;
        LastApplied = throttle.Sequence;
        if (applied) Levels = Levels.SetItem(throttle.Action, throttle.Level);
    }

    /// <summary>
    /// A (re)registration: the governor's <see cref="SubsystemRegistered.LastSequence"/> becomes the last applied, even
    /// when lower than ours (a governor that lost its newest decisions reuses those sequences; refusing them would stall the
    /// subsystem). Returns the declared actions whose level differs from what is applied now, to hand to their handlers.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, double>> Register(SubsystemRegistered registered)
    {
        LastApplied = registered.LastSequence;
        return registered.Levels
            .Where(l => _actions.Contains(l.Key) && LevelOf(l.Key) != l.Value)
            .OrderBy(l => l.Key, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Records a level applied from a registration.</summary>
    public void SetLevel(string action, double level) => Levels = Levels.SetItem(action, level);
}
