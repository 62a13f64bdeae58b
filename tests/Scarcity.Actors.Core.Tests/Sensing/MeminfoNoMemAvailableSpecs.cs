using Scarcity.Actors.Contracts;
using Scarcity.Actors.Core.Tests.FieldCases;
using Scarcity.Actors.Sensing;
using Xunit;
using static Scarcity.Actors.Core.Tests.Sensing.ProcTree;

namespace Scarcity.Actors.Core.Tests.Sensing;

/// <summary>
/// Field case <c>meminfo-no-memavailable</c>: old kernels (before 3.14) and some compatibility layers have no
/// <c>MemAvailable</c> line. The parser degrades field by field: available memory is estimated from
/// MemFree + Buffers + Cached + SReclaimable, swap is still reported, and the estimate is said once. Generally, a field
/// the host does not have leaves out only the series that need it (absent, not stale), each lack said once.
/// </summary>
public sealed class MeminfoNoMemAvailableSpecs : LinuxSourceSpecBase
{
    private static void AssertAbsent(MetricBuffer sample, string metric)
    {
        Assert.Null(sample.Find(metric));
        Assert.DoesNotContain(metric, sample.Stale.ToArray());
    }

    [Fact]
    public void Meminfo_no_memavailable_available_memory_is_estimated_swap_still_reported_and_said_once()
    {
        _tree.Overlay(FieldCase.File("meminfo-no-memavailable"));
        using var source = Source();

        for (var t = 0.0; t < 5; t += 0.25)
        {
            var sample = Sample(source, t);
            // MemFree 2048000 + Buffers 512000 + Cached 4096000 + SReclaimable 256000 = 6912000 of 16384000 kB.
            Assert.Equal(1 - 6912000.0 / 16384000, sample.Find(MetricNames.MemUtil)!.Value, 9);
            Assert.Equal(6912000.0 / (1 << 20), sample.Find(MetricNames.MemAvailableGb)!.Value, 9);
            Assert.Equal(0.0, sample.Find(MetricNames.SwapUtil));
            Assert.Equal(0, sample.StaleCount);
        }

        Assert.InRange(_buffer.Find(MetricNames.MemUtil)!.Value, 0.57, 0.59);
        var notice = Assert.Single(_notices);
        Assert.Contains("has no MemAvailable", notice, StringComparison.Ordinal);
        Assert.Contains("estimated as MemFree + Buffers + Cached + SReclaimable", notice, StringComparison.Ordinal);
    }

    [Fact]
    public void Meminfo_no_memavailable_nor_sreclaimable_estimates_with_what_is_there_and_says_what_is_missing()
    {
        // A 2.6.18 kernel: neither MemAvailable nor SReclaimable.
        _tree.ProcFile("meminfo", "MemTotal: 8000000 kB\nMemFree: 1000000 kB\nBuffers: 500000 kB\nCached: 2500000 kB\n" +
                                  "SwapCached: 0 kB\nSwapTotal: 2000000 kB\nSwapFree: 1500000 kB\n");
        using var source = Source();

        var sample = Sample(source, 0);

        Assert.Equal(0.5, sample.Find(MetricNames.MemUtil)!.Value, 9);
        Assert.Equal(0.25, sample.Find(MetricNames.SwapUtil)!.Value, 9);
        Assert.Contains("SReclaimable missing too, counted as 0", Assert.Single(_notices), StringComparison.Ordinal);
    }

    [Fact]
    public void Meminfo_no_memavailable_without_swap_lines_only_swap_util_is_absent_and_said_once()
    {
        // A compatibility layer that writes the memory lines only.
        _tree.ProcFile("meminfo", $"MemTotal: {16 * GiB / KiB} kB\nMemFree: {2 * GiB / KiB} kB\nMemAvailable: {4 * GiB / KiB} kB\n");
        using var source = Source();

        Sample(source, 0);
        var sample = Sample(source, 0.25);

        Assert.Equal(0.75, sample.Find(MetricNames.MemUtil));
        Assert.Equal(4.0, sample.Find(MetricNames.MemAvailableGb));
        AssertAbsent(sample, MetricNames.SwapUtil);
        Assert.Equal(0, sample.StaleCount);
        Assert.Contains("swap_util is not reported", Assert.Single(_notices), StringComparison.Ordinal);
    }

    [Fact]
    public void Meminfo_no_memavailable_without_memtotal_mem_available_gb_is_still_reported()
    {
        _tree.ProcFile("meminfo", $"MemAvailable: {4 * GiB / KiB} kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n");
        using var source = Source();

        Sample(source, 0);
        var sample = Sample(source, 0.25);

        Assert.Equal(4.0, sample.Find(MetricNames.MemAvailableGb));
        Assert.Equal(0.0, sample.Find(MetricNames.SwapUtil));
        AssertAbsent(sample, MetricNames.MemUtil);
        Assert.Contains("no MemTotal line: mem_util is not reported", Assert.Single(_notices), StringComparison.Ordinal);
    }

    [Fact]
    public void Meminfo_no_memavailable_nor_memfree_leaves_host_memory_out_but_a_container_limit_still_reports()
    {
        _tree.ProcFile("meminfo", $"MemTotal: {16 * GiB / KiB} kB\nSwapTotal: {1 * GiB / KiB} kB\nSwapFree: {1 * GiB / KiB} kB\n");
        using (var host = Source())
        {
            var sample = Sample(host, 0);
            AssertAbsent(sample, MetricNames.MemUtil);
            AssertAbsent(sample, MetricNames.MemAvailableGb);
            Assert.Equal(0.0, sample.Find(MetricNames.SwapUtil));
            Assert.Contains("neither MemAvailable nor MemFree", Assert.Single(_notices), StringComparison.Ordinal);
        }

        _tree.CgroupFile("cgroup.controllers", "cpu memory");
        _tree.CgroupFile("memory.max", (2 * GiB).ToString());
        _tree.CgroupFile("memory.current", (512 * MiB).ToString());
        using var container = Source();
        var limited = Sample(container, 0);

        Assert.Equal(0.25, limited.Find(MetricNames.MemUtil)!.Value, 9);
        Assert.Equal(1.5, limited.Find(MetricNames.MemAvailableGb)!.Value, 9);
    }

    [Fact]
    public void Meminfo_no_memavailable_a_garbled_reading_is_stale_not_absent_and_says_nothing_about_missing_fields()
    {
        using var source = Source();
        Sample(source, 0);
        _tree.ProcFile("meminfo", "MemTotal: 16384000 kB\nMemFree: ?? kB\n");

        var garbled = Sample(source, 0.25).Stale.ToArray();
        _tree.Meminfo(totalKb: 16 * GiB / KiB, availableKb: 4 * GiB / KiB, swapTotalKb: 0, swapFreeKb: 0);
        var whole = Sample(source, 0.5);

        Assert.Equal([MetricNames.MemUtil, MetricNames.MemAvailableGb, MetricNames.SwapUtil], garbled);
        Assert.Equal(0.75, whole.Find(MetricNames.MemUtil));
        Assert.Empty(_notices);
    }
}
