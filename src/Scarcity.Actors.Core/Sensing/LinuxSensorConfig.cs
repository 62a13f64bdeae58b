using Scarcity.Actors.Configuration;

namespace Scarcity.Actors.Sensing;

/// <summary>Where <see cref="LinuxSensorSource"/> reads from, and how often it re-reads container limits.</summary>
public sealed class LinuxSensorConfig : IValidatedConfig
{
    /// <summary>The procfs mount.</summary>
    /// <value>Default <c>/proc</c>. Specs point it at a fixture directory with the same layout.</value>
    public string ProcRoot { get; init; } = "/proc";

    /// <summary>The cgroup mount: v2 when it holds <c>cgroup.controllers</c>, v1 when it holds <c>memory/</c> or <c>cpu/</c>.</summary>
    /// <value>Default <c>/sys/fs/cgroup</c>.</value>
    public string CgroupRoot { get; init; } = "/sys/fs/cgroup";

    /// <summary>
    /// The sysfs mount, asked once per device (when first seen) whether a network interface is physical and whether a
    /// block device is a whole disk; where it has no answer, the device's name decides.
    /// </summary>
    /// <value>Default <c>/sys</c>. Specs point it at a fake tree, or at a directory that does not exist to test the names.</value>
    public string SysRoot { get; init; } = "/sys";

    /// <summary>How often the cgroup limits are re-read and files that failed are retried (each backing off, doubling up to 32 intervals).</summary>
    /// <value>Default 10 s: limits change rarely, and re-reading them every sample would cost a third of the budget.</value>
    public TimeSpan LimitRefreshInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Hears, once each, about degraded sensing: no PSI on this kernel, a file that cannot be read.</summary>
    /// <value>Default none.</value>
    public Action<string>? OnNotice { get; init; }

    /// <summary>Every problem, each naming its key under <paramref name="section"/> (the sensor's section).</summary>
    public IEnumerable<string> Validate(string section = SensorConfig.Section)
    {
        if (string.IsNullOrWhiteSpace(ProcRoot)) yield return $"{section}:ProcRoot must name a directory, e.g. \"/proc\"";
        if (string.IsNullOrWhiteSpace(CgroupRoot)) yield return $"{section}:CgroupRoot must name a directory, e.g. \"/sys/fs/cgroup\"";
        if (string.IsNullOrWhiteSpace(SysRoot)) yield return $"{section}:SysRoot must name a directory, e.g. \"/sys\"";
        if (LimitRefreshInterval <= TimeSpan.Zero)
            yield return $"{section}:LimitRefreshInterval must be positive (default 00:00:10), was {LimitRefreshInterval}";
    }
}
