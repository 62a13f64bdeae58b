using System.Diagnostics;
using System.Text;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Sensing;
using Xunit;
using static Scarcity.Actors.Core.Tests.Sensing.ProcTree;

namespace Scarcity.Actors.Core.Tests.Sensing;

public sealed class LinuxSensorSourceSpecs : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private const double Precision = 1e-9;

    private readonly ProcTree _tree = ProcTree.Host();
    private readonly List<string> _notices = [];
    private readonly MetricBuffer _buffer = new();

    public void Dispose() => _tree.Dispose();

    private LinuxSensorSource Source(ProcTree? tree = null, TimeSpan? refresh = null) => new(new LinuxSensorConfig
    {
        ProcRoot = (tree ?? _tree).Proc,
        CgroupRoot = (tree ?? _tree).Cgroup,
        SysRoot = (tree ?? _tree).Sys,
        LimitRefreshInterval = refresh ?? TimeSpan.FromSeconds(10),
        OnNotice = _notices.Add,
    });

    private MetricBuffer Sample(LinuxSensorSource source, DateTimeOffset at)
    {
        _buffer.Clear();
        source.Sample(_buffer, at);
        return _buffer;
    }

    private static void AssertValue(MetricBuffer buffer, string metric, double expected)
    {
        var actual = buffer.Find(metric);
        Assert.True(actual.HasValue, $"{metric} was not reported");
        Assert.Equal(expected, actual.Value, Precision);
    }

    [Fact]
    public void First_sample_reports_levels_and_only_seeds_counters()
    {
        using var source = Source();

        var first = Sample(source, T0);

        AssertValue(first, MetricNames.MemUtil, 0.75);
        AssertValue(first, MetricNames.MemAvailableGb, 4.0);
        AssertValue(first, MetricNames.SwapUtil, 0.25);
        AssertValue(first, MetricNames.PsiCpu, 0.0343);
        AssertValue(first, MetricNames.PsiMem, 0.0);
        AssertValue(first, MetricNames.PsiIo, 0.125);
        Assert.Null(first.Find(MetricNames.CpuUtil));
        Assert.Null(first.Find(MetricNames.DiskReadMb));
        Assert.Null(first.Find(MetricNames.DiskWriteMb));
        Assert.Null(first.Find(MetricNames.NetSentMb));
        Assert.Null(first.Find(MetricNames.NetRecvMb));
        Assert.Equal(0, first.StaleCount);
        Assert.True(source.PsiAvailable);
    }

    [Fact]
    public void Second_sample_gives_rates_from_deltas_over_the_elapsed_time()
    {
        _tree.Diskstats(("vda", 1000, 2000), ("vda1", 1000, 2000), ("nvme0n1", 0, 0), ("nvme0n1p1", 0, 0),
            ("loop0", 0, 0), ("dm-0", 0, 0), ("zram0", 0, 0));
        _tree.NetDev(("lo", 0, 0), ("eth0", 10, 20), ("eth1", 0, 0));
        using var source = Source();
        Sample(source, T0);

        // 2 s later: 100 ticks of which 25 idle (20 idle + 5 iowait).
        _tree.Stat(user: 160, system: 65, idle: 820, iowait: 55);
        // vda read 2 MiB, wrote 4 MiB; nvme0n1 read 1 MiB; partitions, loop, dm and zram would add far more.
        _tree.Diskstats(("vda", 1000 + 4096, 2000 + 8192), ("vda1", 1000 + 4096, 2000 + 8192), ("nvme0n1", 2048, 0),
            ("nvme0n1p1", 2048, 0), ("loop0", 999_999, 999_999), ("dm-0", 999_999, 999_999), ("zram0", 999_999, 999_999));
        // eth0 received 2 MiB and sent 1 MiB, eth1 received 2 MiB; lo's 100 MiB is not network traffic.
        _tree.NetDev(("lo", 100 * MiB, 100 * MiB), ("eth0", 10 + 2 * MiB, 20 + 1 * MiB), ("eth1", 2 * MiB, 0));
        var second = Sample(source, T0.AddSeconds(2));

        AssertValue(second, MetricNames.CpuUtil, 0.75);
        AssertValue(second, MetricNames.DiskReadMb, 1.5);
        AssertValue(second, MetricNames.DiskWriteMb, 2.0);
        AssertValue(second, MetricNames.NetRecvMb, 2.0);
        AssertValue(second, MetricNames.NetSentMb, 0.5);
        Assert.Equal(0, second.StaleCount);
    }

    [Fact]
    public void A_counter_that_goes_backwards_reseeds_instead_of_giving_a_negative_rate()
    {
        _tree.Diskstats(("vda", 50_000, 50_000));
        _tree.NetDev(("eth0", 50 * MiB, 50 * MiB));
        _tree.Stat(user: 1000, system: 1000, idle: 1000, iowait: 0);
        using var source = Source();
        Sample(source, T0);

        // Counters reset (reboot of a VM disk, driver reload, wrap).
        _tree.Diskstats(("vda", 10, 10));
        _tree.NetDev(("eth0", 10, 10));
        _tree.Stat(user: 10, system: 10, idle: 10, iowait: 0);
        var reset = Sample(source, T0.AddSeconds(1));

        Assert.Null(reset.Find(MetricNames.DiskReadMb));
        Assert.Null(reset.Find(MetricNames.DiskWriteMb));
        Assert.Null(reset.Find(MetricNames.NetRecvMb));
        Assert.Null(reset.Find(MetricNames.NetSentMb));
        Assert.Null(reset.Find(MetricNames.CpuUtil));

        // The reset reading is the new baseline.
        _tree.Diskstats(("vda", 10 + 2048, 10));
        _tree.NetDev(("eth0", 10 + MiB, 10));
        _tree.Stat(user: 20, system: 10, idle: 40, iowait: 0);
        var after = Sample(source, T0.AddSeconds(2));

        AssertValue(after, MetricNames.DiskReadMb, 1.0);
        AssertValue(after, MetricNames.DiskWriteMb, 0.0);
        AssertValue(after, MetricNames.NetRecvMb, 1.0);
        AssertValue(after, MetricNames.NetSentMb, 0.0);
        AssertValue(after, MetricNames.CpuUtil, 0.25);
    }

    [Fact]
    public void A_device_that_appears_or_disappears_does_not_jump_the_total()
    {
        _tree.Diskstats(("vda", 0, 0), ("vdb", 1_000_000, 1_000_000));
        using var source = Source();
        Sample(source, T0);

        // vdb is unplugged and sdc plugged with a long history: only vda's own 1 MiB counts.
        _tree.Diskstats(("vda", 2048, 0), ("sdc", 9_000_000, 9_000_000));
        var second = Sample(source, T0.AddSeconds(1));

        AssertValue(second, MetricNames.DiskReadMb, 1.0);
        AssertValue(second, MetricNames.DiskWriteMb, 0.0);

        // sdc counts from its own baseline on.
        _tree.Diskstats(("vda", 2048, 0), ("sdc", 9_000_000 + 4096, 9_000_000));
        AssertValue(Sample(source, T0.AddSeconds(2)), MetricNames.DiskReadMb, 2.0);
    }

    [Fact]
    public void A_clock_that_has_not_moved_gives_no_rate_and_keeps_the_baseline()
    {
        using var source = Source();
        Sample(source, T0);
        _tree.Diskstats(("vda", 2048, 0));

        var same = Sample(source, T0);
        Assert.Null(same.Find(MetricNames.DiskReadMb));

        AssertValue(Sample(source, T0.AddSeconds(1)), MetricNames.DiskReadMb, 1.0);
    }

    [Fact]
    public void Without_psi_the_pressure_series_are_absent_not_zero_and_it_is_said_once()
    {
        using var tree = ProcTree.Host(psi: false);
        using var source = Source(tree);

        var first = Sample(source, T0);
        var second = Sample(source, T0.AddSeconds(1));

        Assert.False(source.PsiAvailable);
        foreach (var sample in new[] { first, second })
        {
            Assert.Null(sample.Find(MetricNames.PsiCpu));
            Assert.Null(sample.Find(MetricNames.PsiMem));
            Assert.Null(sample.Find(MetricNames.PsiIo));
            Assert.DoesNotContain(MetricNames.PsiCpu, sample.Stale.ToArray());
        }
        Assert.Single(_notices, n => n.Contains("psi_cpu", StringComparison.Ordinal));
        Assert.NotNull(second.Find(MetricNames.MemUtil));
    }

    [Fact]
    public void A_file_that_cannot_be_read_turns_its_series_stale_and_the_rest_still_report()
    {
        _tree.Delete("meminfo");
        using var source = Source();

        Sample(source, T0);
        _tree.Stat(user: 150, system: 50, idle: 850, iowait: 50);
        var second = Sample(source, T0.AddSeconds(1));

        Assert.Equal([MetricNames.MemUtil, MetricNames.MemAvailableGb, MetricNames.SwapUtil], second.Stale.ToArray());
        Assert.Null(second.Find(MetricNames.MemUtil));
        AssertValue(second, MetricNames.CpuUtil, 0.5);
        Assert.NotNull(second.Find(MetricNames.DiskReadMb));
        Assert.Single(_notices, n => n.Contains("meminfo", StringComparison.Ordinal));
    }

    [Fact]
    public void A_garbled_file_is_stale_not_zero()
    {
        using var source = Source();
        Sample(source, T0);
        _tree.ProcFile("meminfo", "MemTotal: lots\n");
        _tree.ProcFile(Path.Combine("pressure", "io"), "");

        var garbled = Sample(source, T0.AddSeconds(1));

        Assert.Contains(MetricNames.MemUtil, garbled.Stale.ToArray());
        Assert.Contains(MetricNames.PsiIo, garbled.Stale.ToArray());
        Assert.Null(garbled.Find(MetricNames.MemUtil));
        Assert.Null(garbled.Find(MetricNames.PsiIo));
    }

    [Fact]
    public void Cgroup_v2_memory_limit_takes_precedence_over_host_totals()
    {
        _tree.CgroupFile("cgroup.controllers", "cpuset cpu io memory pids");
        _tree.CgroupFile("memory.max", (2 * GiB).ToString());
        _tree.CgroupFile("memory.current", (512 * MiB).ToString());
        using var source = Source();

        var sample = Sample(source, T0);

        Assert.Equal(CgroupVersion.V2, source.Cgroup);
        Assert.Equal(2 * GiB, source.MemoryLimitBytes);
        AssertValue(sample, MetricNames.MemUtil, 0.25);
        AssertValue(sample, MetricNames.MemAvailableGb, 1.5);
        AssertValue(sample, MetricNames.SwapUtil, 0.25);
    }

    [Fact]
    public void Cgroup_v2_available_memory_is_bounded_by_what_the_host_has_left()
    {
        _tree.CgroupFile("cgroup.controllers", "cpu memory");
        _tree.CgroupFile("memory.max", (8 * GiB).ToString());
        _tree.CgroupFile("memory.current", (1 * GiB).ToString());
        _tree.Meminfo(totalKb: 16 * GiB / KiB, availableKb: 2 * GiB / KiB, swapTotalKb: 0, swapFreeKb: 0);
        using var source = Source();

        var sample = Sample(source, T0);

        AssertValue(sample, MetricNames.MemAvailableGb, 2.0);
        AssertValue(sample, MetricNames.MemUtil, 0.75);
        AssertValue(sample, MetricNames.SwapUtil, 0.0);
    }

    [Fact]
    public void Cgroup_v2_memory_max_of_max_means_host_totals()
    {
        _tree.CgroupFile("cgroup.controllers", "cpu memory");
        _tree.CgroupFile("memory.max", "max");
        _tree.CgroupFile("memory.current", (15 * GiB).ToString());
        using var source = Source();

        var sample = Sample(source, T0);

        Assert.Null(source.MemoryLimitBytes);
        AssertValue(sample, MetricNames.MemUtil, 0.75);
        AssertValue(sample, MetricNames.MemAvailableGb, 4.0);
    }

    [Fact]
    public void Cgroup_v2_cpu_quota_makes_cpu_util_relative_to_the_quota()
    {
        _tree.CgroupFile("cgroup.controllers", "cpu memory");
        _tree.CgroupFile("cpu.max", "50000 100000");
        _tree.CgroupFile("cpu.stat", "usage_usec 1000000\nuser_usec 800000\nsystem_usec 200000");
        using var source = Source();
        Assert.Null(Sample(source, T0).Find(MetricNames.CpuUtil));

        // 0.25 s of CPU in 1 s against half a core; the host's own counters (all busy) must not matter.
        _tree.CgroupFile("cpu.stat", "usage_usec 1250000\nuser_usec 1000000\nsystem_usec 250000");
        _tree.Stat(user: 10_000, system: 50, idle: 800, iowait: 50);
        var second = Sample(source, T0.AddSeconds(1));

        Assert.Equal(0.5, source.CpuLimitCores);
        AssertValue(second, MetricNames.CpuUtil, 0.5);
    }

    [Fact]
    public void Cgroup_v2_cpu_max_of_max_means_host_cpu()
    {
        _tree.CgroupFile("cgroup.controllers", "cpu memory");
        _tree.CgroupFile("cpu.max", "max 100000");
        _tree.CgroupFile("cpu.stat", "usage_usec 1000000");
        using var source = Source();
        Sample(source, T0);

        _tree.Stat(user: 130, system: 60, idle: 850, iowait: 60); // 100 ticks, 60 idle
        var second = Sample(source, T0.AddSeconds(1));

        Assert.Null(source.CpuLimitCores);
        AssertValue(second, MetricNames.CpuUtil, 0.4);
    }

    [Fact]
    public void Cgroup_v1_memory_and_cpu_limits_apply_where_v1_is_mounted()
    {
        _tree.CgroupFile("memory/memory.limit_in_bytes", (1 * GiB).ToString());
        _tree.CgroupFile("memory/memory.usage_in_bytes", (256 * MiB).ToString());
        _tree.CgroupFile("cpu/cpu.cfs_quota_us", "200000");
        _tree.CgroupFile("cpu/cpu.cfs_period_us", "100000");
        _tree.CgroupFile("cpuacct/cpuacct.usage", "5000000000");
        using var source = Source();

        var first = Sample(source, T0);
        _tree.CgroupFile("cpuacct/cpuacct.usage", "6000000000"); // 1 s of CPU in 1 s against 2 cores
        var second = Sample(source, T0.AddSeconds(1));

        Assert.Equal(CgroupVersion.V1, source.Cgroup);
        Assert.Equal(1 * GiB, source.MemoryLimitBytes);
        Assert.Equal(2.0, source.CpuLimitCores);
        AssertValue(first, MetricNames.MemUtil, 0.25);
        AssertValue(first, MetricNames.MemAvailableGb, 0.75);
        AssertValue(second, MetricNames.CpuUtil, 0.5);
    }

    [Fact]
    public void Cgroup_v1_unlimited_values_mean_host_totals()
    {
        _tree.CgroupFile("memory/memory.limit_in_bytes", "9223372036854771712");
        _tree.CgroupFile("memory/memory.usage_in_bytes", (15 * GiB).ToString());
        _tree.CgroupFile("cpu/cpu.cfs_quota_us", "-1");
        _tree.CgroupFile("cpu/cpu.cfs_period_us", "100000");
        _tree.CgroupFile("cpuacct/cpuacct.usage", "5000000000");
        using var source = Source();

        var first = Sample(source, T0);
        _tree.Stat(user: 180, system: 50, idle: 810, iowait: 60); // 100 ticks, 20 idle
        var second = Sample(source, T0.AddSeconds(1));

        Assert.Equal(CgroupVersion.V1, source.Cgroup);
        Assert.Null(source.MemoryLimitBytes);
        Assert.Null(source.CpuLimitCores);
        AssertValue(first, MetricNames.MemUtil, 0.75);
        AssertValue(second, MetricNames.CpuUtil, 0.8);
    }

    [Fact]
    public void The_process_own_cgroup_is_used_when_it_exists_under_the_mount()
    {
        _tree.CgroupFile("cgroup.controllers", "cpu memory");
        _tree.CgroupFile("app.slice/worker.service/memory.max", (1 * GiB).ToString());
        _tree.CgroupFile("app.slice/worker.service/memory.current", (512 * MiB).ToString());
        _tree.ProcFile("self/cgroup", "0::/app.slice/worker.service\n");
        using var source = Source();

        var sample = Sample(source, T0);

        Assert.Equal(1 * GiB, source.MemoryLimitBytes);
        AssertValue(sample, MetricNames.MemUtil, 0.5);
    }

    [Fact]
    public void Limits_are_reread_once_per_refresh_interval()
    {
        _tree.CgroupFile("cgroup.controllers", "cpu memory");
        _tree.CgroupFile("memory.max", (2 * GiB).ToString());
        _tree.CgroupFile("memory.current", (1 * GiB).ToString());
        using var source = Source(refresh: TimeSpan.FromSeconds(10));
        Sample(source, T0);

        _tree.CgroupFile("memory.max", "max");
        AssertValue(Sample(source, T0.AddSeconds(5)), MetricNames.MemUtil, 0.5);
        AssertValue(Sample(source, T0.AddSeconds(10)), MetricNames.MemUtil, 0.75);
        Assert.Null(source.MemoryLimitBytes);
    }

    [Fact]
    public void Real_proc_of_this_machine_gives_values_in_range()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var source = new LinuxSensorSource();
        var buffer = new MetricBuffer();
        var clock = Stopwatch.StartNew();
        source.Sample(buffer, T0);
        Thread.Sleep(300);
        // Some disk and network traffic of our own, so the rates have something to see.
        File.WriteAllText(Path.Combine(_tree.Root, "traffic"), new string('x', 1 << 16), Encoding.ASCII);
        buffer.Clear();
        source.Sample(buffer, T0 + clock.Elapsed);

        Assert.Equal(0, buffer.StaleCount);
        foreach (var metric in new[] { MetricNames.CpuUtil, MetricNames.MemUtil, MetricNames.SwapUtil })
            Assert.InRange(buffer.Find(metric) ?? -1, 0.0, 1.0);
        Assert.InRange(buffer.Find(MetricNames.MemAvailableGb) ?? -1, 0.001, 1 << 20);
        foreach (var rate in new[] { MetricNames.DiskReadMb, MetricNames.DiskWriteMb, MetricNames.NetSentMb, MetricNames.NetRecvMb })
        {
            var value = buffer.Find(rate);
            if (value is { } v) Assert.InRange(v, 0.0, 100_000.0); // absent only where the machine has no disk or NIC
        }
        if (source.PsiAvailable)
            foreach (var psi in new[] { MetricNames.PsiCpu, MetricNames.PsiMem, MetricNames.PsiIo })
                Assert.InRange(buffer.Find(psi) ?? -1, 0.0, 1.0);
    }

    [Theory]
    [InlineData("sda", true)]
    [InlineData("sdaa", true)]
    [InlineData("vda", true)]
    [InlineData("xvda", true)]
    [InlineData("nvme0n1", true)]
    [InlineData("mmcblk0", true)]
    [InlineData("sda1", false)]
    [InlineData("vda15", false)]
    [InlineData("xvda1", false)]
    [InlineData("nvme0n1p1", false)]
    [InlineData("mmcblk0p2", false)]
    [InlineData("loop0", false)]
    [InlineData("ram0", false)]
    [InlineData("zram0", false)]
    [InlineData("dm-0", false)]
    [InlineData("md127", false)]
    public void Only_whole_physical_disks_count(string name, bool counted) =>
        Assert.Equal(counted, LinuxSensorSource.IsWholeDisk(Encoding.ASCII.GetBytes(name)));

    [Fact]
    public void An_empty_sys_root_fails_at_start_naming_it()
    {
        var e = Assert.Throws<Scarcity.Actors.Configuration.DRGConfigException>(() =>
            new LinuxSensorSource(new LinuxSensorConfig { SysRoot = " " }));
        Assert.StartsWith("Scarcity:Sensor:SysRoot must name a directory", Assert.Single(e.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_option_fails_at_start_naming_it()
    {
        var e = Assert.Throws<Scarcity.Actors.Configuration.DRGConfigException>(() =>
            new LinuxSensorSource(new LinuxSensorConfig { LimitRefreshInterval = TimeSpan.Zero }));
        Assert.StartsWith("Scarcity:Sensor:LimitRefreshInterval must be positive", Assert.Single(e.Errors), StringComparison.Ordinal);
    }
}
