namespace Scarcity.Actors.Sensing;

/// <summary>
/// When to try a failing call again: after the n-th failure in a row, no sooner than <c>First * 2^(n-1)</c>, capped at
/// <c>Max</c>, measured on the sample timestamps a source is given (no clock of its own, so specs drive it). A clock that
/// steps back makes the call due at once rather than pushing the retry out by the step.
/// </summary>
/// <remarks>A mutable struct: keep it in a field or an array element and use it by reference.</remarks>
internal struct RetryBackoff
{
    /// <summary>1 s doubling to 60 s: a driver that is not ready yet, a GPU that stopped answering.</summary>
    public static readonly TimeSpan DefaultFirst = TimeSpan.FromSeconds(1);

    /// <inheritdoc cref="DefaultFirst"/>
    public static readonly TimeSpan DefaultMax = TimeSpan.FromSeconds(60);

    private DateTimeOffset _lastFailure;
    private DateTimeOffset _due;
    private TimeSpan _delay;

    /// <summary>Failures in a row; 0 while the call answers.</summary>
    public int Failures { get; private set; }

    /// <summary>True when the call should be made at <paramref name="now"/>: it has not failed, or its delay is over.</summary>
    public readonly bool IsDue(DateTimeOffset now) => Failures == 0 || now >= _due || now < _lastFailure;

    /// <summary>Counts a failure at <paramref name="now"/> and pushes the next attempt out.</summary>
    public void Failed(DateTimeOffset now) => Failed(now, DefaultFirst, DefaultMax);

    /// <inheritdoc cref="Failed(DateTimeOffset)"/>
    public void Failed(DateTimeOffset now, TimeSpan first, TimeSpan max)
    {
        _delay = Failures == 0 ? first : TimeSpan.FromTicks(Math.Min(_delay.Ticks * 2, max.Ticks));
        Failures++;
        _lastFailure = now;
        _due = now + _delay;
    }

    /// <summary>The call answered: the next failure starts again from the first delay.</summary>
    public void Succeeded() => Failures = 0;
}
