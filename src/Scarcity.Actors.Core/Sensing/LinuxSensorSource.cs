using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Sensing;

/// <summary>
/// Host metrics from procfs and cgroups: <c>cpu_util</c>, <c>mem_util</c>, <c>mem_available_gb</c>, <c>swap_util</c>,
/// <c>disk_read_mb</c>, <c>disk_write_mb</c>, <c>net_sent_mb</c>, <c>net_recv_mb</c> (totals, and one labelled series
/// per counted disk and interface: <c>disk_read_mb{disk="sda"}</c>, <c>net_recv_mb{interface="eth0"}</c>) and, where
/// the kernel has PSI, <c>psi_cpu</c>, <c>psi_mem</c>, <c>psi_io</c>. docs/metrics.md says where each comes from.
/// </summary>
/// <remarks>
/// <para>Rates and <c>cpu_util</c> come from counter deltas: the first sample only seeds them, and a counter that goes
/// backwards re-seeds instead of giving a negative or huge rate.</para>
/// <para>What the host cannot provide is told apart from what failed. A file or field this host does not have (no PSI,
/// PSI files the kernel refuses to read, a meminfo without MemAvailable or swap lines) leaves out only the series that
/// need it: absent, not stale, said once through <see cref="LinuxSensorConfig.OnNotice"/>. A file that fails to read
/// turns its series stale and is retried with a backoff; a garbled reading is stale for that sample.</para>
/// <para>Container limits take precedence over host totals; the limit is the tightest one from the process's cgroup up
/// to the mount's root. With a memory limit below the host's memory, <c>mem_available_gb</c> is the smaller of
/// (limit - working set) and the host's available memory, and <c>mem_util</c> is 1 - available / limit; the working set
/// is the usage less its inactive page cache. With a CPU quota, <c>cpu_util</c> is the cgroup's CPU time over the
/// quota's cores.</para>
/// <para>Disks: whole disks only, so a partition's I/O is not counted twice; network: physical interfaces only, so
/// traffic a bridge or veth repeats is not. Sysfs (<see cref="LinuxSensorConfig.SysRoot"/>) decides, once per device,
/// and the name where it cannot (see <see cref="IsWholeDisk"/>). MB is 2^20 bytes, as GB in <c>mem_available_gb</c> is
/// 2^30.</para>
/// <para>Cost: every file stays open and is re-read from offset 0 into a reused buffer and parsed as bytes; devices are
/// classified and their series named when first seen; so a sample allocates nothing in steady state.</para>
/// </remarks>
public sealed class LinuxSensorSource : ISensorSource
{
    private const double BytesPerMb = 1 << 20;
    private const double BytesPerGb = 1 << 30;
    private const int SectorBytes = 512;
    private const int MaxRetryRefreshes = 32; // a failing file is retried at least every 32 refresh intervals (5 min 20 s) // /proc/diskstats counts 512-byte sectors whatever the device's sector size

    private readonly LinuxSensorConfig _options;
    private readonly Action<string>? _notice;
    private readonly ProcFile _stat;
    private readonly ProcFile _meminfo;
    private readonly ProcFile _diskstats;
    private readonly ProcFile _netdev;
    private readonly ProcFile? _psiCpu;
    private readonly ProcFile? _psiMem;
    private readonly ProcFile? _psiIo;
    private readonly CgroupLimits _cgroup;
    private readonly DeviceCounters _disks;
    private readonly DeviceCounters _interfaces;
    private readonly Meminfo _mem = new();
    private MemSaid _memSaid;

    private DateTimeOffset? _nextLimitRefresh;
    private bool _cpuFromCgroup;
    private bool _hostCpuSeeded;
    private ulong _hostCpuTotal;
    private ulong _hostCpuIdle;
    private DateTimeOffset? _cgroupCpuAt;
    private ulong _cgroupCpuUsage;
    private DateTimeOffset? _diskAt;
    private DateTimeOffset? _netAt;
    private bool _virtualOnlySaid;

    /// <summary>Opens the files; <paramref name="options"/> defaults to the real <c>/proc</c> and <c>/sys/fs/cgroup</c>.</summary>
    public LinuxSensorSource(LinuxSensorConfig? options = null)
    {
        _options = options ?? new LinuxSensorConfig();
        _options.EnsureValid(SensorConfig.Section);
        _notice = _options.OnNotice;
        var proc = _options.ProcRoot;
        // /proc/stat: only the aggregate first line is parsed, so a large machine's long file is read truncated.
        _stat = new ProcFile(Path.Join(proc, "stat"), initialBytes: 8192, maxBytes: 8192);
        _meminfo = new ProcFile(Path.Join(proc, "meminfo"));
        _diskstats = new ProcFile(Path.Join(proc, "diskstats"));
        _netdev = new ProcFile(Path.Join(proc, "net", "dev"));
        _psiCpu = OpenPressure(proc, "cpu");
        _psiMem = OpenPressure(proc, "memory");
        _psiIo = OpenPressure(proc, "io");
        if (_psiCpu is null && _psiMem is null && _psiIo is null)
            _notice?.Invoke($"{Path.Join(proc, "pressure")} is absent (kernel without CONFIG_PSI, or booted with psi=0): " +
                            "psi_cpu, psi_mem and psi_io are not reported");
        else
            ProbePressure();
        _cgroup = new CgroupLimits(proc, _options.CgroupRoot);
        var sys = _options.SysRoot;
        _disks = new DeviceCounters(name => DeviceClasses.Disk(sys, name), MetricNames.DiskReadMb, MetricNames.DiskWriteMb, MetricNames.DiskLabel);
        _interfaces = new DeviceCounters(name => DeviceClasses.Interface(sys, name), MetricNames.NetRecvMb, MetricNames.NetSentMb, MetricNames.InterfaceLabel);
    }

    /// <inheritdoc />
    public string Name => "linux";

    /// <summary>
    /// True once a PSI file has been read. False when the kernel has no <c>/proc/pressure</c>, or its files open but cannot
    /// be read (PSI compiled in but disabled): the PSI series are then not reported at all (not as zero, not as stale).
    /// </summary>
    public bool PsiAvailable => _psiCpu?.HasRead == true || _psiMem?.HasRead == true || _psiIo?.HasRead == true;

    /// <summary>The cgroup interface found at <see cref="LinuxSensorConfig.CgroupRoot"/>.</summary>
    public CgroupVersion Cgroup => _cgroup.Version;

    /// <summary>The container memory limit the last sample applied, in bytes; null when host totals applied.</summary>
    public long? MemoryLimitBytes { get; private set; }

    /// <summary>The container CPU quota the last sample applied, in cores; null when host totals applied.</summary>
    public double? CpuLimitCores => _cgroup.CpuLimitCores;

    /// <inheritdoc />
    public void Sample(MetricBuffer buffer, DateTimeOffset now)
    {
        if (_nextLimitRefresh is not { } due || now >= due)
        {
            RefreshLimits(now);
            _nextLimitRefresh = now + _options.LimitRefreshInterval;
        }
        SampleCpu(buffer, now);
        SampleMemory(buffer);
        SampleDisks(buffer, now);
        SampleNetwork(buffer, now);
        SamplePressure(buffer, _psiCpu, MetricNames.PsiCpu);
        SamplePressure(buffer, _psiMem, MetricNames.PsiMem);
        SamplePressure(buffer, _psiIo, MetricNames.PsiIo);
    }

    /// <summary>
    /// The names' rule for counting a <c>/proc/diskstats</c> device, where sysfs cannot tell: whole physical disks only,
    /// so that each byte is counted once. Left out: partitions (<c>sda1</c>, <c>vda2</c>, <c>nvme0n1p1</c>, <c>mmcblk0p1</c>), which repeat their
    /// disk's I/O; <c>dm-*</c> and <c>md*</c>, stacked on disks already counted; <c>loop*</c>, <c>ram*</c> and
    /// <c>zram*</c>, which are files or memory, not disk. Counted: <c>sda</c>, <c>vda</c>, <c>xvda</c>,
    /// <c>nvme0n1</c>, <c>mmcblk0</c> and any other name.
    /// </summary>
    public static bool IsWholeDisk(ReadOnlySpan<byte> name)
    {
        if (name.IsEmpty
            || name.StartsWith("loop"u8) || name.StartsWith("ram"u8) || name.StartsWith("zram"u8)
            || name.StartsWith("dm-"u8) || name.StartsWith("md"u8))
            return false;
        var digits = name.Length;
        while (digits > 0 && IsDigit(name[digits - 1])) digits--;
        if (digits == name.Length) return true; // sda, vdb, sdaa
        if (digits >= 2 && name[digits - 1] == (byte)'p' && IsDigit(name[digits - 2])) return false; // nvme0n1p1
        // sd/hd/vd/xvd disks are letters only, so a trailing number is a partition; nvme0n1, mmcblk0 are disks.
        return !(name.StartsWith("sd"u8) || name.StartsWith("hd"u8) || name.StartsWith("vd"u8) || name.StartsWith("xvd"u8));
    }

    private void RefreshLimits(DateTimeOffset now)
    {
        // Files that failed are retried here, each on its own backoff (one refresh interval, doubling up to 32 of them);
        // unsupported ones never.
        var first = _options.LimitRefreshInterval;
        var max = first * MaxRetryRefreshes;
        _stat.Retry(now, first, max);
        _meminfo.Retry(now, first, max);
        _diskstats.Retry(now, first, max);
        _netdev.Retry(now, first, max);
        _psiCpu?.Retry(now, first, max);
        _psiMem?.Retry(now, first, max);
        _psiIo?.Retry(now, first, max);
        _cgroup.Reopen(now, first, max);
        _cgroup.Refresh(_notice);
    }

    private void SampleCpu(MetricBuffer buffer, DateTimeOffset now)
    {
        var cores = _cgroup.CpuLimitCores;
        if ((cores is not null) != _cpuFromCgroup)
        {
            // The quota came or went: the other counter's baseline is old, start both afresh.
            _cpuFromCgroup = cores is not null;
            _hostCpuSeeded = false;
            _cgroupCpuAt = null;
        }
        if (cores is { } c) SampleCgroupCpu(buffer, now, c);
        else SampleHostCpu(buffer);
    }

    private void SampleHostCpu(MetricBuffer buffer)
    {
        if (!_stat.TryRead(out var text, _notice) || !TryParseCpuLine(text, out var total, out var idle))
        {
            buffer.AddStale(MetricNames.CpuUtil);
            return;
        }
        if (_hostCpuSeeded)
        {
            if (total == _hostCpuTotal) return; // not one tick since the last sample: keep the baseline
            if (total > _hostCpuTotal)
            {
                // idle + iowait may step back a little (iowait is not monotonic on NO_HZ kernels), hence signed.
                var busy = 1 - (double)((long)idle - (long)_hostCpuIdle) / (total - _hostCpuTotal);
                buffer.Add(MetricNames.CpuUtil, Math.Clamp(busy, 0, 1));
            }
        }
        _hostCpuTotal = total;
        _hostCpuIdle = idle;
        _hostCpuSeeded = true;
    }

    private void SampleCgroupCpu(MetricBuffer buffer, DateTimeOffset now, double cores)
    {
        if (!_cgroup.TryReadCpuUsage(_notice, out var usage, out var secondsPerUnit))
        {
            buffer.AddStale(MetricNames.CpuUtil);
            return;
        }
        if (_cgroupCpuAt is { } at)
        {
            var dt = (now - at).TotalSeconds;
            if (dt <= 0) return;
            if (usage >= _cgroupCpuUsage)
                buffer.Add(MetricNames.CpuUtil, Math.Clamp((usage - _cgroupCpuUsage) * secondsPerUnit / (dt * cores), 0, 1));
        }
        _cgroupCpuUsage = usage;
        _cgroupCpuAt = now;
    }

    /// <summary>The aggregate <c>cpu</c> line: total = user..steal (guest is already in user), idle = idle + iowait.</summary>
    private static bool TryParseCpuLine(ReadOnlySpan<byte> text, out ulong total, out ulong idle)
    {
        total = 0;
        idle = 0;
        var pos = 0;
        if (!ProcText.NextLine(text, ref pos, out var line)) return false;
        var p = 0;
        if (!ProcText.NextToken(line, ref p).SequenceEqual("cpu"u8)) return false;
        var fields = 0;
        for (; fields < 8 && ProcText.TryNextUInt64(line, ref p, out var v); fields++)
        {
            total += v;
            if (fields is 3 or 4) idle += v;
        }
        return fields >= 4;
    }

    private void SampleMemory(MetricBuffer buffer)
    {
        if (!_meminfo.TryRead(out var text, _notice) || !_mem.Parse(text))
        {
            buffer.AddStale(MetricNames.MemUtil);
            buffer.AddStale(MetricNames.MemAvailableGb);
            buffer.AddStale(MetricNames.SwapUtil);
            return;
        }
        // Field by field: a field this kernel does not have leaves out only the series that need it, said once.
        long? hostTotal = _mem.Has(Meminfo.MemTotal) ? _mem.Bytes(Meminfo.MemTotal) : null;
        var hostAvailable = HostAvailable();
        // A limit at or above the host's memory limits nothing (without MemTotal, any limit applies).
        if (_cgroup.MemoryLimitBytes is { } limit && limit < (hostTotal ?? long.MaxValue))
        {
            MemoryLimitBytes = limit;
            if (_cgroup.TryReadMemoryUsage(_notice, out var used))
            {
                var available = Math.Max(limit - used, 0);
                if (hostAvailable is { } h) available = Math.Min(available, h);
                buffer.Add(MetricNames.MemUtil, Math.Clamp(1 - (double)available / limit, 0, 1));
                buffer.Add(MetricNames.MemAvailableGb, available / BytesPerGb);
            }
            else
            {
                buffer.AddStale(MetricNames.MemUtil);
                buffer.AddStale(MetricNames.MemAvailableGb);
            }
        }
        else
        {
            MemoryLimitBytes = null;
            if (hostAvailable is { } available)
            {
                buffer.Add(MetricNames.MemAvailableGb, available / BytesPerGb);
                if (hostTotal is { } total) buffer.Add(MetricNames.MemUtil, Math.Clamp(1 - (double)available / total, 0, 1));
                else if (FirstTime(MemSaid.NoTotal)) _notice?.Invoke($"{_meminfo.Path} has no MemTotal line: mem_util is not reported");
            }
        }
        if (_mem.Has(Meminfo.SwapTotal) && (_mem.Has(Meminfo.SwapFree) || _mem.Bytes(Meminfo.SwapTotal) == 0))
        {
            // No swap configured: none of it is in use.
            var swapTotal = _mem.Bytes(Meminfo.SwapTotal);
            buffer.Add(MetricNames.SwapUtil, swapTotal == 0 ? 0 : Math.Clamp(1 - (double)_mem.Bytes(Meminfo.SwapFree) / swapTotal, 0, 1));
        }
        else if (FirstTime(MemSaid.NoSwap))
        {
            _notice?.Invoke($"{_meminfo.Path} has no SwapTotal or SwapFree line: swap_util is not reported");
        }
    }

    /// <summary>
    /// The host's available memory: MemAvailable, or on a kernel without it (before 3.14) the estimate
    /// MemFree + Buffers + Cached + SReclaimable, which is what the kernel's own figure approximates; null (said once)
    /// when not even MemFree is there.
    /// </summary>
    private long? HostAvailable()
    {
        if (_mem.Has(Meminfo.MemAvailable)) return _mem.Bytes(Meminfo.MemAvailable);
        if (!_mem.Has(Meminfo.MemFree))
        {
            if (FirstTime(MemSaid.NoAvailable))
                _notice?.Invoke($"{_meminfo.Path} has neither MemAvailable nor MemFree: mem_util and mem_available_gb are not reported " +
                                "(but for a container limit, which needs only the cgroup's own usage)");
            return null;
        }
        if (FirstTime(MemSaid.Estimating))
        {
            var lacking = new[] { Meminfo.Buffers, Meminfo.Cached, Meminfo.SReclaimable }.Where(f => !_mem.Has(f)).Select(Meminfo.Name).ToList();
            _notice?.Invoke($"{_meminfo.Path} has no MemAvailable (a kernel before 3.14, or a compatibility layer): " +
                            "available memory is estimated as MemFree + Buffers + Cached + SReclaimable" +
                            (lacking.Count > 0 ? $" ({string.Join(", ", lacking)} missing too, counted as 0)" : ""));
        }
        return _mem.Bytes(Meminfo.MemFree) + _mem.Bytes(Meminfo.Buffers) + _mem.Bytes(Meminfo.Cached) + _mem.Bytes(Meminfo.SReclaimable);
    }

    /// <summary>True the first time only, so that each lack is said once and its notice is built only then.</summary>
    private bool FirstTime(MemSaid what)
    {
        if ((_memSaid & what) != 0) return false;
        _memSaid |= what;
        return true;
    }

    [Flags]
    private enum MemSaid
    {
        None = 0,
        Estimating = 1,
        NoAvailable = 2,
        NoTotal = 4,
        NoSwap = 8,
    }

    private void SampleDisks(MetricBuffer buffer, DateTimeOffset now)
    {
        if (!_diskstats.TryRead(out var text, _notice))
        {
            buffer.AddStale(MetricNames.DiskReadMb);
            buffer.AddStale(MetricNames.DiskWriteMb);
            return;
        }
        var dt = _diskAt is { } at ? (now - at).TotalSeconds : 0;
        if (_diskAt is not null && dt <= 0) return; // the clock has not moved: keep the baseline
        _disks.Begin();
        var pos = 0;
        while (ProcText.NextLine(text, ref pos, out var line))
        {
            // major minor name reads merged sectors_read ms writes merged sectors_written ...
            var p = 0;
            ProcText.SkipTokens(line, ref p, 2);
            var name = ProcText.NextToken(line, ref p);
            if (name.IsEmpty) continue;
            var disk = _disks.Track(name);
            if (_disks.IsIgnored(disk)) continue; // a partition, loop, dm...: classified once, never parsed
            ProcText.SkipTokens(line, ref p, 2);
            if (!ProcText.TryNextUInt64(line, ref p, out var sectorsRead)) continue;
            ProcText.SkipTokens(line, ref p, 3);
            if (!ProcText.TryNextUInt64(line, ref p, out var sectorsWritten)) continue;
            _disks.Update(disk, sectorsRead, sectorsWritten);
        }
        if (_disks.End(out var read, out var written) && dt > 0)
        {
            const double perSector = SectorBytes / BytesPerMb;
            buffer.Add(MetricNames.DiskReadMb, read * perSector / dt);
            buffer.Add(MetricNames.DiskWriteMb, written * perSector / dt);
            for (var i = 0; i < _disks.Count; i++)
            {
                if (!_disks.TryGetDevice(i, out var readSeries, out var writeSeries, out var r, out var w)) continue;
                buffer.Add(readSeries, r * perSector / dt);
                buffer.Add(writeSeries, w * perSector / dt);
            }
        }
        _diskAt = now;
    }

    private void SampleNetwork(MetricBuffer buffer, DateTimeOffset now)
    {
        if (!_netdev.TryRead(out var text, _notice))
        {
            buffer.AddStale(MetricNames.NetSentMb);
            buffer.AddStale(MetricNames.NetRecvMb);
            return;
        }
        var dt = _netAt is { } at ? (now - at).TotalSeconds : 0;
        if (_netAt is not null && dt <= 0) return;
        _interfaces.Begin();
        var pos = 0;
        while (ProcText.NextLine(text, ref pos, out var line))
        {
            // "  eth0: rx_bytes rx_packets ... (8 receive columns) tx_bytes ..."; the two header lines have '|' instead.
            var colon = line.IndexOf((byte)':');
            if (colon < 0) continue;
            var nic = _interfaces.Track(line[..colon].Trim(" \t"u8));
            if (_interfaces.IsIgnored(nic)) continue;
            var fields = line[(colon + 1)..];
            var p = 0;
            if (!ProcText.TryNextUInt64(fields, ref p, out var received)) continue;
            ProcText.SkipTokens(fields, ref p, 7);
            if (!ProcText.TryNextUInt64(fields, ref p, out var sent)) continue;
            _interfaces.Update(nic, received, sent);
        }
        if (_interfaces.End(out var recv, out var sentBytes) && dt > 0)
        {
            buffer.Add(MetricNames.NetSentMb, sentBytes / BytesPerMb / dt);
            buffer.Add(MetricNames.NetRecvMb, recv / BytesPerMb / dt);
            for (var i = 0; i < _interfaces.Count; i++)
            {
                if (!_interfaces.TryGetDevice(i, out var recvSeries, out var sentSeries, out var r, out var w)) continue;
                buffer.Add(sentSeries, w / BytesPerMb / dt);
                buffer.Add(recvSeries, r / BytesPerMb / dt);
            }
        }
        if (_interfaces.CountingVirtualOnly && !_virtualOnlySaid)
        {
            _virtualOnlySaid = true;
            _notice?.Invoke($"{_netdev.Path} lists no physical network interface (a container's own network namespace?): " +
                            "net_sent_mb and net_recv_mb count its virtual interfaces that are not bridges or bridge ports");
        }
        _netAt = now;
    }

    private void SamplePressure(MetricBuffer buffer, ProcFile? file, string metric)
    {
        if (file is null) return; // no PSI on this kernel: said once at construction
        // A file never read is unavailable, not stale: said once by ProbePressure, its series absent while it is retried.
        var everRead = file.HasRead;
        if (file.TryRead(out var text, everRead ? _notice : null) && TryParseSomeAvg10(text, out var percent))
        {
            if (!everRead) _notice?.Invoke($"{file.Path} reads now: {metric} is reported");
            buffer.Add(metric, Math.Clamp(percent / 100, 0, 1));
        }
        else if (file.HasRead && !file.IsUnsupported)
        {
            buffer.AddStale(metric);
        }
    }

    /// <summary>
    /// Reads each PSI file once at start, so that files which open but cannot be read (PSI compiled in but disabled, the
    /// kernel answering EOPNOTSUPP) are said once, together, rather than turning stale at every sample.
    /// </summary>
    private void ProbePressure()
    {
        var unavailable = new List<(ProcFile File, string Metric)>(3);
        foreach (var (file, metric) in new[] { (_psiCpu, MetricNames.PsiCpu), (_psiMem, MetricNames.PsiMem), (_psiIo, MetricNames.PsiIo) })
            if (file is not null && !file.TryRead(out _, null)) unavailable.Add((file, metric));
        if (unavailable.Count == 0) return;
        var unsupported = unavailable.TrueForAll(u => u.File.IsUnsupported);
        _notice?.Invoke(
            $"PSI is unavailable: {string.Join(", ", unavailable.Select(u => u.File.Path))} open but cannot be read ({unavailable[0].File.LastError}); " +
            $"{string.Join(", ", unavailable.Select(u => u.Metric))} {(unavailable.Count == 1 ? "is" : "are")} not reported" +
            (unsupported ? " (the kernel does not support them: PSI disabled, booted without psi=1)" : "; retried with a backoff"));
    }

    /// <summary>The <c>avg10</c> of the <c>some</c> line: <c>some avg10=3.43 avg60=...</c> gives 3.43 (percent).</summary>
    private static bool TryParseSomeAvg10(ReadOnlySpan<byte> text, out double percent)
    {
        var pos = 0;
        while (ProcText.NextLine(text, ref pos, out var line))
        {
            var p = 0;
            if (!ProcText.NextToken(line, ref p).SequenceEqual("some"u8)) continue;
            var avg10 = ProcText.NextToken(line, ref p);
            if (avg10.StartsWith("avg10="u8)) return ProcText.TryParseDouble(avg10["avg10=".Length..], out percent);
        }
        percent = 0;
        return false;
    }

    private static ProcFile? OpenPressure(string proc, string resource)
    {
        var file = new ProcFile(Path.Join(proc, "pressure", resource), initialBytes: 256);
        if (file.IsOpen) return file;
        file.Dispose();
        return null;
    }

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';

    /// <inheritdoc />
    public void Dispose()
    {
        _stat.Dispose();
        _meminfo.Dispose();
        _diskstats.Dispose();
        _netdev.Dispose();
        _psiCpu?.Dispose();
        _psiMem?.Dispose();
        _psiIo?.Dispose();
        _cgroup.Dispose();
    }
}
