using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Sensing;

/// <summary>What and how often the SensorActor samples.</summary>
public sealed class SensorConfig : IValidatedConfig
{
    /// <summary>The configuration section these settings are bound from.</summary>
    public const string Section = "Scarcity:Sensor";

    /// <summary>Sampling interval (<c>00:00:00.250</c>). <value>250 ms</value></summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Root of the proc file system. <value>/proc</value></summary>
    public string ProcRoot { get; set; } = "/proc";

    /// <summary>Root of the cgroup file system. <value>/sys/fs/cgroup</value></summary>
    public string CgroupRoot { get; set; } = "/sys/fs/cgroup";

    /// <summary>Root of the sys file system, which tells physical network interfaces and whole disks apart. <value>/sys</value></summary>
    public string SysRoot { get; set; } = "/sys";

    /// <summary>
    /// How long a sample waits for each of several sources (this machine's files, NVML, a subsystem's own) before that
    /// source's series read stale and it is reported as hung; the other sources' readings go out on time.
    /// </summary>
    /// <value>Default null: half of <see cref="Interval"/> (125 ms at 250 ms). Must be shorter than the interval.</value>
    public TimeSpan? SourceDeadline { get; set; }

    /// <summary><see cref="SourceDeadline"/>, or half the interval when it is not set.</summary>
    public TimeSpan EffectiveSourceDeadline => SourceDeadline ?? Interval / 2;

    /// <summary>A CSV trace (<c>t_seconds,metric,value</c>) to replay instead of reading this machine; null: read the machine.</summary>
    public string? TraceFile { get; set; }

    /// <summary>
    /// This host's labels, e.g. <c>{"rack": "r12", "row": "b"}</c>: fleet budgets select hosts by them
    /// (<c>Scarcity:Policy:Budgets:N:Selector</c>). Sent apart from the samples, every <see cref="LabelsInterval"/>. Empty: none.
    /// </summary>
    public Dictionary<string, string> Labels { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How often the sensor sends this host's <see cref="Labels"/> (and once at start). Positive. <value>10 s</value></summary>
    public TimeSpan LabelsInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Every problem with this configuration, each naming its key.</summary>
    public IEnumerable<string> Validate(string section = Section)
    {
        if (Interval <= TimeSpan.Zero) yield return $"{section}:Interval must be positive, was {Interval}";
        if (SourceDeadline is { } deadline && (deadline <= TimeSpan.Zero || deadline >= Interval))
            yield return $"{section}:SourceDeadline must be positive and shorter than {section}:Interval ({Interval}), " +
                         $"was {deadline}; leave it unset for half the interval";
        foreach (var (label, value) in Labels)
            if (!SubsystemNames.IsValid(label) || string.IsNullOrEmpty(value) || value.Length > SubsystemNames.MaxLength)
                yield return $"{section}:Labels:{label} must be a label name ({SubsystemNames.Rule}) with a value of 1 to {SubsystemNames.MaxLength} characters, was '{value}'";
        if (LabelsInterval <= TimeSpan.Zero) yield return $"{section}:LabelsInterval must be positive, was {LabelsInterval}";
        if (TraceFile is not null && !File.Exists(TraceFile)) yield return $"{section}:TraceFile '{TraceFile}' does not exist";
    }
}
