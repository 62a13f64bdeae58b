namespace Scarcity.Actors.Journaling;

/// <summary>
/// At most <see cref="Lines"/> lines of one kind per <see cref="Window"/>, for events that come in storms from many
/// sources at once (hundreds of hosts turning stale when a node or the network stalls): the first lines of a window are
/// logged as they come, the rest are only counted; the first line of a later window says how many were left out
/// (<see cref="Verdict.LeftOutBefore"/>), and the line that exhausts a window's budget says so
/// (<see cref="Verdict.LastOfWindow"/>), so a reader knows more happened than the log shows. Timestamps are handed in.
/// Thread-safe: one instance serves every actor of a node.
/// </summary>
/// <param name="lines">Lines per window; at least 1.</param>
/// <param name="window">The window; positive.</param>
public sealed class LogBudget(int lines, TimeSpan window)
{
    /// <summary>Whether to log one event, and what its line should add.</summary>
    /// <param name="Log">Log it.</param>
    /// <param name="LeftOutBefore">Events of earlier windows that were not logged (when <paramref name="Log"/>; 0 otherwise).</param>
    /// <param name="LastOfWindow">This line uses the window's last place: the next events of the window are left out.</param>
    public readonly record struct Verdict(bool Log, long LeftOutBefore, bool LastOfWindow);

    private readonly Lock _lock = new();
    private DateTimeOffset _windowStart = DateTimeOffset.MinValue;
    private int _logged;
    private long _leftOut;

    /// <summary>Lines per window.</summary>
    public int Lines { get; } = lines >= 1 ? lines : throw new ArgumentOutOfRangeException(nameof(lines), lines, "must be at least 1");

    /// <summary>The window.</summary>
    public TimeSpan Window { get; } = window > TimeSpan.Zero ? window : throw new ArgumentOutOfRangeException(nameof(window), window, "must be positive");

    /// <summary>The verdict on one event at <paramref name="now"/>.</summary>
    public Verdict Take(DateTimeOffset now)
    {
        lock (_lock)
        {
            if (now - _windowStart >= Window || now < _windowStart)
            {
                _windowStart = now;
                _logged = 0;
            }
            if (_logged >= Lines)
            {
                _leftOut++;
                return new Verdict(false, 0, false);
            }
            _logged++;
            var leftOut = _leftOut;
            _leftOut = 0;
            return new Verdict(true, leftOut, _logged == Lines);
        }
    }
}
