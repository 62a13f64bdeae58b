using Scarcity.Actors.Configuration;

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

    /// <summary>A CSV trace (<c>t_seconds,metric,value</c>) to replay instead of reading this machine; null: read the machine.</summary>
    public string? TraceFile { get; set; }

    /// <summary>Every problem with this configuration, each naming its key.</summary>
    public IEnumerable<string> Validate(string section = Section)
    {
        if (Interval <= TimeSpan.Zero) yield return $"{section}:Interval must be positive, was {Interval}";
        if (TraceFile is not null && !File.Exists(TraceFile)) yield return $"{section}:TraceFile '{TraceFile}' does not exist";
    }
}
