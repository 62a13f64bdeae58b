namespace Scarcity.Actors.Sensing;

/// <summary>What and how often the SensorActor samples.</summary>
public sealed class SensorConfig
{
    /// <summary>Sampling interval in milliseconds. <value>250</value></summary>
    public int IntervalMs { get; set; } = 250;

    /// <summary>Root of the proc file system. <value>/proc</value></summary>
    public string ProcRoot { get; set; } = "/proc";

    /// <summary>Root of the cgroup file system. <value>/sys/fs/cgroup</value></summary>
    public string CgroupRoot { get; set; } = "/sys/fs/cgroup";

    /// <summary>A CSV trace (<c>t_seconds,metric,value</c>) to replay instead of reading this machine; null: read the machine.</summary>
    public string? TraceFile { get; set; }

    /// <summary>The sampling interval.</summary>
    public TimeSpan Interval => TimeSpan.FromMilliseconds(IntervalMs);

    /// <summary>Every problem with this configuration, each naming its key.</summary>
    public IEnumerable<string> Validate(string section = "Scarcity:Sensor")
    {
        if (IntervalMs <= 0) yield return $"{section}:IntervalMs must be positive, was {IntervalMs}";
        if (TraceFile is not null && !File.Exists(TraceFile)) yield return $"{section}:TraceFile '{TraceFile}' does not exist";
    }
}
