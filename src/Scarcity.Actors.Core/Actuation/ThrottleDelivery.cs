using System.Diagnostics;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Actuation;

/// <summary>A Throttle that waits for its <see cref="ThrottleAck"/>.</summary>
/// <param name="Throttle">The Throttle, resent unchanged on every attempt.</param>
/// <param name="Attempts">How often it was sent (or, while the subsystem was unreachable, due to be sent); 1 after <see cref="ThrottleDelivery.Track"/>.</param>
/// <param name="DueAt">When the next attempt is due, on the clock of the timestamps handed in.</param>
public sealed record PendingThrottle(Throttle Throttle, int Attempts, DateTimeOffset DueAt);

/// <summary>What one <see cref="ThrottleDelivery.Retry"/> round found to do.</summary>
/// <param name="Resend">The Throttles whose attempt was due, to send again now; empty when none was due.</param>
/// <param name="BecameSilent">
/// The Throttle whose attempt made the subsystem silent in this round (at <see cref="ActuatorConfig.SilentAfterAttempts"/>),
/// to report once; null when the subsystem did not just turn silent (it is not, or it already was).
/// </param>
public readonly record struct RetryRound(IReadOnlyList<Throttle> Resend, PendingThrottle? BecameSilent);

/// <summary>
/// The actuator's delivery bookkeeping, without Akka: which Throttle of each action still waits for its ack, when it is due
/// again, and whether the subsystem has gone silent. Levels are absolute, so only the newest Throttle of an action matters:
/// a newer one supersedes the pending one. An ack of sequence N settles every pending Throttle at or below N.
/// Unacknowledged Throttles are retried with exponential backoff: attempt 1 is followed by a wait of
/// <see cref="ActuatorConfig.AckTimeout"/>, attempt n by min(<see cref="ActuatorConfig.MaxBackoff"/>, AckTimeout x 2^(n-1)),
/// so 1 s, 2 s, 4 s, 8 s, 10 s, 10 s ... with the defaults. After <see cref="ActuatorConfig.SilentAfterAttempts"/> attempts
/// of one Throttle the subsystem is silent: reported once, and again only after an ack or a new registration cleared it.
/// Retries go on while it is silent. Timestamps are handed in (the actor's scheduler clock), never read here, so a spec
/// walks it through minutes in microseconds. Not thread-safe: one actor owns it.
/// </summary>
/// <param name="config">AckTimeout, MaxBackoff and SilentAfterAttempts are read; the config is assumed valid.</param>
public sealed class ThrottleDelivery(ActuatorConfig config)
{
    private sealed class Entry(Throttle throttle, DateTimeOffset dueAt)
    {
        public Throttle Throttle { get; } = throttle;
        public int Attempts { get; set; } = 1;
        public DateTimeOffset DueAt { get; set; } = dueAt;
    }

    private static readonly IReadOnlyList<Throttle> Nothing = [];

    // Keyed by action: at most one pending Throttle per action, the newest.
    private readonly Dictionary<string, Entry> _pending = new(StringComparer.Ordinal);

    /// <summary>The newest sequence acknowledged, or the sequence a registration reply carried (0 before either).</summary>
    public long LastAcked { get; private set; }

    /// <summary>True from the round that reported the subsystem silent until an ack or <see cref="Restart"/>.</summary>
    public bool IsSilent { get; private set; }

    /// <summary>Whether any Throttle waits for its ack (what the actuator's retry tick runs for).</summary>
    public bool HasPending => _pending.Count > 0;

    /// <summary>The Throttles waiting for an ack, at most one per action.</summary>
    public IReadOnlyList<PendingThrottle> Pending => [.. _pending.Values.Select(e => new PendingThrottle(e.Throttle, e.Attempts, e.DueAt))];

    /// <summary>
    /// Records a Throttle that is sent now (or would be, were the subsystem reachable): attempt 1, due again at
    /// <paramref name="sentAt"/> + AckTimeout. It supersedes any pending Throttle of the same action, whatever its attempts.
    /// Returns true when it superseded one (an unacked Throttle that will never be resent).
    /// </summary>
    public bool Track(Throttle throttle, DateTimeOffset sentAt)
    {
        ArgumentNullException.ThrowIfNull(throttle);
        var superseded = _pending.ContainsKey(throttle.Action);
        _pending[throttle.Action] = new Entry(throttle, sentAt + config.AckTimeout);
        return superseded;
    }

    /// <summary>
    /// An ack of <paramref name="sequence"/>, applied or not (a Throttle the subsystem declined is settled too: retrying
    /// it would be declined again). Settles every pending Throttle at or below it, raises <see cref="LastAcked"/> (never
    /// lowers it) and clears <see cref="IsSilent"/>: the subsystem answers. Returns how many pending Throttles it settled.
    /// </summary>
    public int Acknowledge(long sequence)
    {
        LastAcked = Math.Max(LastAcked, sequence);
        IsSilent = false;
        var settled = 0;
        foreach (var (action, entry) in _pending.ToList())
            if (entry.Throttle.Sequence <= sequence && _pending.Remove(action)) settled++;
        return settled;
    }

    /// <summary>
    /// One retry round at <paramref name="now"/>: every pending Throttle whose due time has come (due at or before now)
    /// counts one more attempt, is due again after its backoff, and is returned to be sent again. The first that reaches
    /// SilentAfterAttempts while the subsystem is not yet silent makes it silent and is returned as
    /// <see cref="RetryRound.BecameSilent"/>.
    /// </summary>
    public RetryRound Retry(DateTimeOffset now)
    {
        if (_pending.Count == 0) return new RetryRound(Nothing, null);
        List<Throttle>? resend = null;
        PendingThrottle? becameSilent = null;
        foreach (var entry in _pending.Values)
        {
            if (now < entry.DueAt) continue;
            entry.Attempts++;
            entry.DueAt = now + Backoff(entry.Attempts);
            (resend ??= []).Add(entry.Throttle);
            if (entry.Attempts >= config.SilentAfterAttempts && !IsSilent)
            {
                IsSilent = true;
                becameSilent = new PendingThrottle(entry.Throttle, entry.Attempts, entry.DueAt);
            }
        }
        return new RetryRound(resend ?? Nothing, becameSilent);
    }

    /// <summary>
    /// A (re)registration: its reply carries every current level up to <paramref name="acknowledgedUpTo"/>, so nothing is
    /// pending any more, that sequence counts as acknowledged (even when lower than an earlier ack) and the subsystem is
    /// not silent.
    /// </summary>
    public void Restart(long acknowledgedUpTo)
    {
        _pending.Clear();
        LastAcked = acknowledgedUpTo;
        IsSilent = false;
    }

    /// <summary>The wait after attempt <paramref name="attempts"/>: min(MaxBackoff, AckTimeout x 2^(attempts-1)).</summary>
    public TimeSpan Backoff(int attempts)
    {
        Debug.Assert(attempts >= 1, "an attempt count starts at 1");
        return TimeSpan.FromMilliseconds(Math.Min(config.MaxBackoff.TotalMilliseconds,
            config.AckTimeout.TotalMilliseconds * Math.Pow(2, attempts - 1)));
    }
}
