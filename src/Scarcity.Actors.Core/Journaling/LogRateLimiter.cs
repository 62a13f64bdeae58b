namespace Scarcity.Actors.Journaling;

/// <summary>
/// One log line per distinct error per interval: the first occurrence of a key is logged at once, repeats within the
/// interval are only counted, and the first occurrence after the interval is logged with how many were suppressed.
/// A fault that lasts a minute costs a handful of lines, not one per entity per attempt. Keys are the caller's (e.g. the
/// exception's type and message); at most <see cref="MaxKeys"/> are remembered, the oldest forgotten first. Timestamps
/// are handed in. Not thread-safe: one actor owns it.
/// </summary>
/// <param name="interval">At most one line per key per this long; positive.</param>
public sealed class LogRateLimiter(TimeSpan interval)
{
    /// <summary>How many distinct keys are remembered.</summary>
    public const int MaxKeys = 256;

    private readonly Dictionary<string, (DateTimeOffset LoggedAt, long Suppressed)> _keys = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();

    /// <summary>The interval.</summary>
    public TimeSpan Interval { get; } = interval > TimeSpan.Zero ? interval : throw new ArgumentOutOfRangeException(nameof(interval), interval, "must be positive");

    /// <summary>
    /// Whether to log an occurrence of <paramref name="key"/> at <paramref name="now"/>; when true,
    /// <paramref name="suppressed"/> is how many occurrences since the last line were not logged.
    /// </summary>
    public bool ShouldLog(string key, DateTimeOffset now, out long suppressed)
    {
        if (_keys.TryGetValue(key, out var seen) && now - seen.LoggedAt < Interval)
        {
            _keys[key] = seen with { Suppressed = seen.Suppressed + 1 };
            suppressed = 0;
            return false;
        }
        suppressed = seen.Suppressed;
        if (!_keys.ContainsKey(key))
        {
            _order.Enqueue(key);
            while (_order.Count > MaxKeys) _keys.Remove(_order.Dequeue());
        }
        _keys[key] = (now, 0);
        return true;
    }
}
