namespace Scarcity.Actors.Configuration;

/// <summary>
/// Telemetry recording (<c>Scarcity:Recording</c>): each governor node appends the samples, subsystem reports and
/// registrations of the hosts it profiles to segment files in <see cref="Directory"/>, bounded by size and age (the
/// oldest segments are deleted), so that <c>scarcity replay</c> can run them through a candidate policy. Off by default;
/// off, the profilers make no call and no allocation for it. See docs/policies.md (Replay).
/// </summary>
public sealed class RecordingConfig : IValidatedConfig
{
    /// <summary>The configuration section these settings are bound from.</summary>
    public const string Section = "Scarcity:Recording";

    /// <summary>The smallest <see cref="MaxBytes"/> accepted: 64 KiB.</summary>
    public const long MinimumBytes = 64 * 1024;

    /// <summary>Whether this node records. <value>false</value></summary>
    public bool Enabled { get; set; }

    /// <summary>Where the segment files go (created when missing; one directory per node). <value>./data/recording</value></summary>
    public string Directory { get; set; } = "./data/recording";

    /// <summary>
    /// The most bytes the segments may take together; when over, the oldest are deleted. A segment is closed at a tenth
    /// of it (at most 64 MiB), so the bound holds within one segment. At least 64 KiB. <value>1 GiB</value>
    /// </summary>
    public long MaxBytes { get; set; } = 1L << 30;

    /// <summary>How long a segment is kept after its last record; a segment is closed at a tenth of it. At least 1 minute. <value>1 day</value></summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(1);

    /// <summary>How often the buffered records are written (one frame per write). 10 ms to 1 minute. <value>1 s</value></summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The size at which a segment is closed and a new one begun: a tenth of <see cref="MaxBytes"/>, 16 KiB to 64 MiB.</summary>
    public long SegmentBytes => Math.Clamp(MaxBytes / 10, 16 * 1024, 64L << 20);

    /// <summary>The age at which a segment is closed and a new one begun: a tenth of <see cref="MaxAge"/>.</summary>
    public TimeSpan SegmentAge => MaxAge / 10;

    /// <summary>Every problem with this configuration, each naming its key.</summary>
    public IEnumerable<string> Validate(string section = Section)
    {
        if (Enabled && string.IsNullOrWhiteSpace(Directory)) yield return $"{section}:Directory is empty (where the segment files go, e.g. ./data/recording)";
        if (MaxBytes < MinimumBytes) yield return $"{section}:MaxBytes must be at least {MinimumBytes} (64 KiB), was {MaxBytes}";
        if (MaxAge < TimeSpan.FromMinutes(1)) yield return $"{section}:MaxAge must be at least 00:01:00, was {MaxAge}";
        if (FlushInterval < TimeSpan.FromMilliseconds(10) || FlushInterval > TimeSpan.FromMinutes(1))
            yield return $"{section}:FlushInterval must be between 00:00:00.010 and 00:01:00, was {FlushInterval}";
    }
}
