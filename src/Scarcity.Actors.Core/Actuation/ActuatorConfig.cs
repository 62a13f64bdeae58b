using Scarcity.Actors.Configuration;

namespace Scarcity.Actors.Actuation;

/// <summary>How Throttles are delivered. Defaults suit subsystems on loopback or a data-centre network.</summary>
public sealed class ActuatorConfig : IValidatedConfig
{
    /// <summary>The configuration section these settings are bound from.</summary>
    public const string Section = "Scarcity:Actuator";

    /// <summary>Time to wait for a ThrottleAck before the first retry; doubles per retry. <value>1 s</value></summary>
    public TimeSpan AckTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between two retries. <value>10 s</value></summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>After this many unacknowledged attempts the subsystem is reported silent. <value>5</value></summary>
    public int SilentAfterAttempts { get; set; } = 5;

    /// <summary>
    /// True: a decision is written to the journal before its Throttle leaves (a crash can never send a Throttle the
    /// journal lacks, at the cost of a journal write, 3-25 ms on SQLite with fsync, in every reaction). False (default):
    /// the Throttle leaves at once and the decision is written right after; a crash in between loses that decision from
    /// the journal, and the subsystem gets the journal's levels and sequence again when it re-registers.
    /// <value>false</value>
    /// </summary>
    public bool PersistBeforeSend { get; set; }

    /// <summary>A snapshot of the levels is saved every this many decisions. <value>100</value></summary>
    public int SnapshotEvery { get; set; } = 100;

    /// <summary>Every problem with this configuration, each naming its key.</summary>
    public IEnumerable<string> Validate(string section = Section)
    {
        if (AckTimeout <= TimeSpan.Zero) yield return $"{section}:AckTimeout must be positive, was {AckTimeout}";
        if (MaxBackoff < AckTimeout) yield return $"{section}:MaxBackoff must be at least AckTimeout, was {MaxBackoff}";
        if (SilentAfterAttempts < 1) yield return $"{section}:SilentAfterAttempts must be at least 1, was {SilentAfterAttempts}";
        if (SnapshotEvery < 1) yield return $"{section}:SnapshotEvery must be at least 1, was {SnapshotEvery}";
    }
}
