using System.Text;

namespace Scarcity.Actors.Sensing;

/// <summary>
/// The memory and CPU limits that bind the cgroup this process runs in, and the usage counters they are measured
/// against. v2 when <c>cgroup.controllers</c> is at the cgroup root; otherwise v1 when the <c>memory</c>, <c>cpu</c> or
/// <c>cpuacct</c> hierarchy is mounted under it.
/// </summary>
/// <remarks>
/// <para>The process's own cgroup comes from <c>/proc/self/cgroup</c>; where its directory does not exist under the
/// mount, the mount's root is used (inside a container with its own cgroup namespace the root is the container's cgroup).
/// A limit may sit on any ancestor (systemd puts it on a slice, Kubernetes on the pod; the process's own cgroup then
/// says <c>max</c>): the limits are read at every level from the process's cgroup up to the mount's root, and the
/// tightest applies, as the kernel enforces it; with looser ancestors that is the nearest limited one.</para>
/// <para>Usage is read where the binding limit is, since that cgroup's total is what the limit is enforced on (its
/// siblings' use included), or from the process's own cgroup where that level has no usage file. Every file stays open;
/// limits are re-read by <see cref="Refresh"/>, usage only while a limit applies.</para>
/// </remarks>
internal sealed class CgroupLimits : IDisposable
{
    private const long UnlimitedBytes = 1L << 62; // v1 writes "no limit" as 2^63 - 4096

    private readonly Level[] _memory = [];
    private readonly Level[] _cpu = [];
    private readonly string _memoryUsageFile = "";
    private readonly string _cpuUsageFile = "";
    private readonly string? _cpuMount;
    private readonly string? _acctMount;
    private readonly string? _acctLeaf;
    private readonly byte[] _inactiveFileKey = [];
    private readonly double _cpuUsageSecondsPerUnit;
    private ProcFile? _memUsage;
    private ProcFile? _memStat;
    private ProcFile? _cpuUsage;
    private int _memUsageLevel = -1;
    private int _cpuUsageLevel = -1;
    private bool _workingSetUnknownSaid;

    public CgroupLimits(string procRoot, string cgroupRoot)
    {
        var self = ReadSelfCgroup(procRoot);
        if (File.Exists(Path.Join(cgroupRoot, "cgroup.controllers")))
        {
            Version = CgroupVersion.V2;
            var leaf = Resolve(cgroupRoot, self.GetValueOrDefault(""));
            var chain = Chain(cgroupRoot, leaf);
            _memory = [.. chain.Select(dir => new Level(dir, Open(dir, "memory.max"), null))];
            _cpu = [.. chain.Select(dir => new Level(dir, Open(dir, "cpu.max"), null))];
            _memoryUsageFile = "memory.current";
            _cpuUsageFile = "cpu.stat";
            _inactiveFileKey = "inactive_file"u8.ToArray();
            _cpuUsageSecondsPerUnit = 1e-6; // usage_usec
        }
        else if (Directory.Exists(Path.Join(cgroupRoot, "memory")) || Directory.Exists(Path.Join(cgroupRoot, "cpu")))
        {
            Version = CgroupVersion.V1;
            var memMount = Path.Join(cgroupRoot, "memory");
            _cpuMount = Path.Join(cgroupRoot, "cpu");
            _acctMount = Path.Join(cgroupRoot, "cpuacct");
            _memory = [.. Chain(memMount, Resolve(memMount, self.GetValueOrDefault("memory")))
                .Select(dir => new Level(dir, Open(dir, "memory.limit_in_bytes"), null))];
            _cpu = [.. Chain(_cpuMount, Resolve(_cpuMount, self.GetValueOrDefault("cpu")))
                .Select(dir => new Level(dir, Open(dir, "cpu.cfs_quota_us"), Open(dir, "cpu.cfs_period_us")))];
            _acctLeaf = Resolve(_acctMount, self.GetValueOrDefault("cpuacct"));
            _memoryUsageFile = "memory.usage_in_bytes";
            _cpuUsageFile = "cpuacct.usage";
            _inactiveFileKey = "total_inactive_file"u8.ToArray(); // hierarchical, as usage_in_bytes is
            _cpuUsageSecondsPerUnit = 1e-9; // nanoseconds
        }
        if (_memory.Length > 0) BindMemoryUsage(0);
        if (_cpu.Length > 0) BindCpuUsage(0);
    }

    public CgroupVersion Version { get; }

    /// <summary>The cgroup whose memory limit binds (the process's own or an ancestor), or null without a limit.</summary>
    public string? MemoryLimitDirectory { get; private set; }

    /// <summary>The cgroup whose CPU quota binds (the process's own or an ancestor), or null without a quota.</summary>
    public string? CpuLimitDirectory { get; private set; }

    /// <summary>The tightest memory limit in bytes on the way up, or null for none (<c>max</c>, absent, unreadable).</summary>
    public long? MemoryLimitBytes { get; private set; }

    /// <summary>The tightest CPU quota in cores (quota / period) on the way up, or null for none (<c>max</c>, <c>-1</c>, absent, unreadable).</summary>
    public double? CpuLimitCores { get; private set; }

    /// <summary>Re-reads the limits at every level and binds the usage counters to the level whose limit applies.</summary>
    public void Refresh(Action<string>? notice)
    {
        MemoryLimitBytes = null;
        var memLevel = 0;
        for (var i = 0; i < _memory.Length; i++)
        {
            if (ReadMemoryLimit(_memory[i], notice) is not { } bytes || bytes >= MemoryLimitBytes) continue;
            MemoryLimitBytes = bytes;
            memLevel = i;
        }
        MemoryLimitDirectory = MemoryLimitBytes is null ? null : _memory[memLevel].Directory;
        if (_memory.Length > 0) BindMemoryUsage(memLevel);

        CpuLimitCores = null;
        var cpuLevel = 0;
        for (var i = 0; i < _cpu.Length; i++)
        {
            var cores = Version == CgroupVersion.V2 ? ReadCpuMax(_cpu[i], notice) : ReadCfsQuota(_cpu[i], notice);
            if (cores is not { } c || c >= CpuLimitCores) continue;
            CpuLimitCores = c;
            cpuLevel = i;
        }
        CpuLimitDirectory = CpuLimitCores is null ? null : _cpu[cpuLevel].Directory;
        if (_cpu.Length > 0) BindCpuUsage(cpuLevel);
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
        {
            bytes = Math.Max(bytes - (long)Math.Min(inactive, (ulong)Math.Max(bytes, 0)), 0);
        }
        else if (!_workingSetUnknownSaid)
        {
            _workingSetUnknownSaid = true;
            notice?.Invoke($"{_memStat?.Path ?? "memory.stat"} has no {Encoding.ASCII.GetString(_inactiveFileKey)} " +
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

    /// <summary>Retries files that could not be opened or went away, each on its own backoff (see <see cref="ProcFile.Retry"/>).</summary>
    public void Reopen(DateTimeOffset now, TimeSpan first, TimeSpan max)
    {
        foreach (var level in _memory) level.Retry(now, first, max);
        foreach (var level in _cpu) level.Retry(now, first, max);
        _memUsage?.Retry(now, first, max);
        _memStat?.Retry(now, first, max);
        _cpuUsage?.Retry(now, first, max);
    }

    /// <summary>Reads the usage counters where the memory limit of <paramref name="level"/> is, or else in the process's own cgroup.</summary>
    private void BindMemoryUsage(int level)
    {
        if (level == _memUsageLevel) return; // the same binding level as at the last refresh: nothing to look up
        _memUsageLevel = level;
        var dir = File.Exists(Path.Join(_memory[level].Directory, _memoryUsageFile)) ? _memory[level].Directory : _memory[0].Directory;
        if (_memUsage is not null && _memUsage.Path == Path.Join(dir, _memoryUsageFile)) return;
        _memUsage?.Dispose();
        _memStat?.Dispose();
        _memUsage = Open(dir, _memoryUsageFile);
        _memStat = Open(dir, "memory.stat", initialBytes: 4096);
    }

    private void BindCpuUsage(int level)
    {
        if (level == _cpuUsageLevel) return;
        _cpuUsageLevel = level;
        string path;
        if (Version == CgroupVersion.V2)
        {
            path = Path.Join(_cpu[level].Directory, _cpuUsageFile);
            if (!File.Exists(path)) path = Path.Join(_cpu[0].Directory, _cpuUsageFile);
        }
        else
        {
            // cpuacct is a hierarchy of its own (mounted together with cpu on most hosts): the same cgroup path in it.
            path = Path.Join(_acctMount, Path.GetRelativePath(_cpuMount!, _cpu[level].Directory), _cpuUsageFile);
            if (!File.Exists(path)) path = Path.Join(_acctLeaf, _cpuUsageFile);
        }
        if (_cpuUsage?.Path == path) return;
        _cpuUsage?.Dispose();
        _cpuUsage = new ProcFile(path, initialBytes: 1024);
    }

    private static long? ReadMemoryLimit(Level level, Action<string>? notice)
    {
        if (!level.Limit.IsOpen || !level.Limit.TryRead(out var text, notice)) return null;
        // "max" has no number; v1's "no limit" is a huge one.
        return ProcText.TryParseInt64(ProcText.Trim(text), out var bytes) && bytes > 0 && bytes < UnlimitedBytes ? bytes : null;
    }

    private static double? ReadCpuMax(Level level, Action<string>? notice)
    {
        // cpu.max: "<quota> <period>" or "max <period>"
        if (!level.Limit.IsOpen || !level.Limit.TryRead(out var text, notice)) return null;
        var pos = 0;
        var quota = ProcText.NextToken(text, ref pos);
        if (!ProcText.TryParseInt64(quota, out var q) || q <= 0) return null;
        return ProcText.TryNextUInt64(text, ref pos, out var period) && period > 0 ? (double)q / period : null;
    }

    private static double? ReadCfsQuota(Level level, Action<string>? notice)
    {
        if (level.Period is not { } periodFile || !level.Limit.IsOpen || !periodFile.IsOpen) return null;
        if (!level.Limit.TryRead(out var quotaText, notice)
            || !ProcText.TryParseInt64(ProcText.Trim(quotaText), out var quota) || quota <= 0) return null; // -1: none
        return periodFile.TryRead(out var periodText, notice)
            && ProcText.TryParseInt64(ProcText.Trim(periodText), out var period) && period > 0
                ? (double)quota / period
                : null;
    }

    private static ProcFile Open(string dir, string file, int initialBytes = 1024) => new(Path.Join(dir, file), initialBytes);

    private static string Resolve(string mount, string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "/") return mount;
        var dir = Path.Join(mount, path.TrimStart('/'));
        return Directory.Exists(dir) ? dir : mount;
    }

    /// <summary><paramref name="leaf"/> and each of its parents up to <paramref name="mount"/>, nearest first.</summary>
    private static List<string> Chain(string mount, string leaf)
    {
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(mount));
        var dir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(leaf));
        var chain = new List<string> { dir };
        while (dir.Length > root.Length && dir.StartsWith(root, StringComparison.Ordinal) && Path.GetDirectoryName(dir) is { } parent)
            chain.Add(dir = parent);
        return chain;
    }

    /// <summary>controller -> path from <c>/proc/self/cgroup</c> ("" for the v2 line <c>0::/path</c>).</summary>
    private static Dictionary<string, string> ReadSelfCgroup(string procRoot)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        string[] lines;
        try
        {
            lines = File.ReadAllLines(Path.Join(procRoot, "self", "cgroup"));
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
        foreach (var level in _memory) level.Dispose();
        foreach (var level in _cpu) level.Dispose();
        _memUsage?.Dispose();
        _memStat?.Dispose();
        _cpuUsage?.Dispose();
    }

    /// <summary>One cgroup on the way up, with its limit file (and, for a v1 CPU quota, its period file).</summary>
    private sealed record Level(string Directory, ProcFile Limit, ProcFile? Period) : IDisposable
    {
        public void Retry(DateTimeOffset now, TimeSpan first, TimeSpan max)
        {
            Limit.Retry(now, first, max);
            Period?.Retry(now, first, max);
        }

        public void Dispose()
        {
            Limit.Dispose();
            Period?.Dispose();
        }
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
