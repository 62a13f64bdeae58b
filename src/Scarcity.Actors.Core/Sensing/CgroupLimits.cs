namespace Scarcity.Actors.Sensing;

/// <summary>
/// The memory and CPU limits of the cgroup this process runs in, and its usage counters. v2 when
/// <c>cgroup.controllers</c> is at the cgroup root; otherwise v1 when the <c>memory</c>, <c>cpu</c> or <c>cpuacct</c>
/// hierarchy is mounted under it. The process's own cgroup (from <c>/proc/self/cgroup</c>) is used when its directory
/// exists under the mount, else the mount's root: inside a container with its own cgroup namespace the root is the
/// container's cgroup. Every file stays open; limits are re-read by <see cref="Refresh"/>, usage only while a limit applies.
/// </summary>
internal sealed class CgroupLimits : IDisposable
{
    private readonly ProcFile? _memLimit;
    private readonly ProcFile? _memUsage;
    private readonly ProcFile? _memStat;
    private readonly byte[] _inactiveFileKey = [];
    private bool _workingSetUnknownSaid;
    private readonly ProcFile? _cpuLimit;
    private readonly ProcFile? _cpuPeriod;
    private readonly ProcFile? _cpuUsage;
    private readonly double _cpuUsageSecondsPerUnit;

    public CgroupLimits(string procRoot, string cgroupRoot)
    {
        var self = ReadSelfCgroup(procRoot);
        if (File.Exists(System.IO.Path.Join(cgroupRoot, "cgroup.controllers")))
        {
            Version = CgroupVersion.V2;
            var dir = Resolve(cgroupRoot, self.GetValueOrDefault(""));
            _memLimit = Open(dir, "memory.max");
            _memUsage = Open(dir, "memory.current");
            _memStat = Open(dir, "memory.stat", 4096);
            _inactiveFileKey = "inactive_file"u8.ToArray();
            _cpuLimit = Open(dir, "cpu.max");
            _cpuUsage = Open(dir, "cpu.stat");
            _cpuUsageSecondsPerUnit = 1e-6; // usage_usec
            MemoryDirectory = CpuDirectory = dir;
        }
        else if (Directory.Exists(System.IO.Path.Join(cgroupRoot, "memory")) || Directory.Exists(System.IO.Path.Join(cgroupRoot, "cpu")))
        {
            Version = CgroupVersion.V1;
            var mem = Resolve(System.IO.Path.Join(cgroupRoot, "memory"), self.GetValueOrDefault("memory"));
            var cpu = Resolve(System.IO.Path.Join(cgroupRoot, "cpu"), self.GetValueOrDefault("cpu"));
            var acct = Resolve(System.IO.Path.Join(cgroupRoot, "cpuacct"), self.GetValueOrDefault("cpuacct"));
            _memLimit = Open(mem, "memory.limit_in_bytes");
            _memUsage = Open(mem, "memory.usage_in_bytes");
            _memStat = Open(mem, "memory.stat", 4096);
            _inactiveFileKey = "total_inactive_file"u8.ToArray(); // hierarchical, as usage_in_bytes is
            _cpuLimit = Open(cpu, "cpu.cfs_quota_us");
            _cpuPeriod = Open(cpu, "cpu.cfs_period_us");
            _cpuUsage = Open(acct, "cpuacct.usage");
            _cpuUsageSecondsPerUnit = 1e-9; // nanoseconds
            MemoryDirectory = mem;
            CpuDirectory = cpu;
        }
    }

    public CgroupVersion Version { get; }

    /// <summary>The directory the memory files are read from, or null without cgroups.</summary>
    public string? MemoryDirectory { get; }

    /// <summary>The directory the CPU limit is read from, or null without cgroups.</summary>
    public string? CpuDirectory { get; }

    /// <summary>The memory limit in bytes as the cgroup states it, or null for none (<c>max</c>, absent, unreadable).</summary>
    public long? MemoryLimitBytes { get; private set; }

    /// <summary>The CPU quota in cores (quota / period), or null for none (<c>max</c>, <c>-1</c>, absent, unreadable).</summary>
    public double? CpuLimitCores { get; private set; }

    /// <summary>Re-reads the limits.</summary>
    public void Refresh(Action<string>? notice)
    {
        MemoryLimitBytes = ReadMemoryLimit(notice);
        CpuLimitCores = Version == CgroupVersion.V2 ? ReadCpuMax(notice) : ReadCfsQuota(notice);
    }

    /// <summary>
    /// The cgroup's working set in bytes: what it is charged for (<c>memory.current</c>, v1 <c>memory.usage_in_bytes</c>)
    /// less its inactive page cache (<c>inactive_file</c>, v1 <c>total_inactive_file</c>, from <c>memory.stat</c>),
    /// which the kernel reclaims before it would OOM-kill anything. The same figure the kubelet evicts on. Where
    /// <c>memory.stat</c> cannot be read the charged usage is used, and said once.
    /// </summary>
    public bool TryReadMemoryUsage(Action<string>? notice, out long bytes)
    {
        bytes = 0;
        if (_memUsage is null || !_memUsage.TryRead(out var text, notice) || !ProcText.TryParseInt64(ProcText.Trim(text), out bytes))
            return false;
        if (_memStat is not null && _memStat.TryRead(out var stat, null) && ProcText.TryFindKeyed(stat, _inactiveFileKey, out var inactive))
            bytes = Math.Max(bytes - (long)Math.Min(inactive, (ulong)bytes), 0);
        else if (!_workingSetUnknownSaid)
        {
            _workingSetUnknownSaid = true;
            notice?.Invoke($"{_memStat?.Path ?? "memory.stat"} has no {System.Text.Encoding.ASCII.GetString(_inactiveFileKey)} " +
                           $"({_memStat?.LastError ?? "not found"}): container memory counts reclaimable page cache as used");
        }
        return true;
    }

    /// <summary>CPU time the cgroup has used, in seconds (<c>cpu.stat usage_usec</c>, <c>cpuacct.usage</c>).</summary>
    public bool TryReadCpuUsage(Action<string>? notice, out ulong units, out double secondsPerUnit)
    {
        units = 0;
        secondsPerUnit = _cpuUsageSecondsPerUnit;
        if (_cpuUsage is null || !_cpuUsage.TryRead(out var text, notice)) return false;
        return Version == CgroupVersion.V2
            ? ProcText.TryFindKeyed(text, "usage_usec"u8, out units)
            : ProcText.TryParseUInt64(ProcText.Trim(text), out units);
    }

    /// <summary>Retries files that could not be opened or went away.</summary>
    public void Reopen()
    {
        _memLimit?.TryOpen();
        _memUsage?.TryOpen();
        _memStat?.Retry();
        _cpuLimit?.TryOpen();
        _cpuPeriod?.TryOpen();
        _cpuUsage?.TryOpen();
    }

    private long? ReadMemoryLimit(Action<string>? notice)
    {
        if (_memLimit is null || !_memLimit.IsOpen || !_memLimit.TryRead(out var text, notice)) return null;
        var value = ProcText.Trim(text);
        return ProcText.TryParseInt64(value, out var bytes) && bytes > 0 ? bytes : null; // "max" has no number
    }

    private double? ReadCpuMax(Action<string>? notice)
    {
        // cpu.max: "<quota> <period>" or "max <period>"
        if (_cpuLimit is null || !_cpuLimit.IsOpen || !_cpuLimit.TryRead(out var text, notice)) return null;
        var pos = 0;
        var quota = ProcText.NextToken(text, ref pos);
        if (!ProcText.TryParseInt64(quota, out var q) || q <= 0) return null;
        return ProcText.TryNextUInt64(text, ref pos, out var period) && period > 0 ? (double)q / period : null;
    }

    private double? ReadCfsQuota(Action<string>? notice)
    {
        if (_cpuLimit is null || _cpuPeriod is null || !_cpuLimit.IsOpen || !_cpuPeriod.IsOpen) return null;
        if (!_cpuLimit.TryRead(out var quotaText, notice)
            || !ProcText.TryParseInt64(ProcText.Trim(quotaText), out var quota) || quota <= 0) return null; // -1: none
        return _cpuPeriod.TryRead(out var periodText, notice)
            && ProcText.TryParseInt64(ProcText.Trim(periodText), out var period) && period > 0
                ? (double)quota / period
                : null;
    }

    private static ProcFile Open(string dir, string file, int initialBytes = 1024) => new(System.IO.Path.Join(dir, file), initialBytes);

    private static string Resolve(string mount, string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "/") return mount;
        var dir = System.IO.Path.Join(mount, path.TrimStart('/'));
        return Directory.Exists(dir) ? dir : mount;
    }

    /// <summary>controller -> path from <c>/proc/self/cgroup</c> ("" for the v2 line <c>0::/path</c>).</summary>
    private static Dictionary<string, string> ReadSelfCgroup(string procRoot)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        string[] lines;
        try
        {
            lines = File.ReadAllLines(System.IO.Path.Join(procRoot, "self", "cgroup"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return map;
        }
        foreach (var line in lines)
        {
            var parts = line.Split(':', 3);
            if (parts.Length != 3) continue;
            foreach (var controller in parts[1].Split(','))
                map[controller] = parts[2];
        }
        return map;
    }

    public void Dispose()
    {
        _memLimit?.Dispose();
        _memUsage?.Dispose();
        _memStat?.Dispose();
        _cpuLimit?.Dispose();
        _cpuPeriod?.Dispose();
        _cpuUsage?.Dispose();
    }
}

/// <summary>Which cgroup interface limits this process.</summary>
public enum CgroupVersion
{
    /// <summary>No cgroup hierarchy was found: host totals apply.</summary>
    None,
    /// <summary>cgroup v1 (separate <c>memory</c>, <c>cpu</c>, <c>cpuacct</c> hierarchies).</summary>
    V1,
    /// <summary>cgroup v2 (one unified hierarchy with <c>cgroup.controllers</c> at its root).</summary>
    V2,
}
