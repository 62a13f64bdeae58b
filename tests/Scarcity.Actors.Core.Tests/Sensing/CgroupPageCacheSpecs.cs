using Scarcity.Actors.Contracts;
using Scarcity.Actors.Core.Tests.FieldCases;
using Scarcity.Actors.Sensing;
using Xunit;
using static Scarcity.Actors.Core.Tests.Sensing.ProcTree;

namespace Scarcity.Actors.Core.Tests.Sensing;

/// <summary>
/// Field case <c>cgroup-page-cache</c>: a container's <c>memory.current</c> counts reclaimable page cache. The memory a
/// container uses is its working set, current - inactive_file (v1: usage_in_bytes - total_inactive_file), which is what
/// the kernel cannot reclaim before an OOM kill.
/// </summary>
public sealed class CgroupPageCacheSpecs : LinuxSourceSpecBase
{
    [Fact]
    public void Cgroup_page_cache_container_memory_is_the_working_set_not_the_charged_usage()
    {
        _tree.Overlay(FieldCase.File("cgroup-page-cache"));
        using var source = Source();

        var sample = Sample(source, 0);

        // current 4187593113 - inactive_file 3435973836 = 751619277 of the 4 GiB limit.
        Assert.Equal(4 * GiB, source.MemoryLimitBytes);
        Assert.Equal((4187593113.0 - 3435973836) / (4 * GiB), sample.Find(MetricNames.MemUtil)!.Value, 9);
        Assert.InRange(sample.Find(MetricNames.MemUtil)!.Value, 0.17, 0.19);
        Assert.Equal((4 * GiB - (4187593113.0 - 3435973836)) / GiB, sample.Find(MetricNames.MemAvailableGb)!.Value, 9);
        Assert.Empty(_notices);
    }

    [Fact]
    public void Cgroup_page_cache_v1_subtracts_the_hierarchical_total_inactive_file()
    {
        _tree.CgroupFile("memory/memory.limit_in_bytes", (2 * GiB).ToString());
        _tree.CgroupFile("memory/memory.usage_in_bytes", (1900 * MiB).ToString());
        _tree.CgroupFile("memory/memory.stat",
            $"cache {1600 * MiB}\nrss {300 * MiB}\ninactive_file {10 * MiB}\nactive_file {90 * MiB}\n" +
            $"hierarchical_memory_limit {2 * GiB}\ntotal_cache {1600 * MiB}\ntotal_inactive_file {1500 * MiB}\ntotal_active_file {100 * MiB}");
        using var source = Source();

        var sample = Sample(source, 0);

        Assert.Equal(CgroupVersion.V1, source.Cgroup);
        Assert.Equal(400.0 / 2048, sample.Find(MetricNames.MemUtil)!.Value, 9);
    }

    [Fact]
    public void Cgroup_page_cache_reclaimed_cache_is_followed_sample_by_sample()
    {
        _tree.Overlay(FieldCase.File("cgroup-page-cache"));
        using var source = Source();
        Sample(source, 0);

        // The application allocates 2 GiB; the kernel reclaims as much inactive cache to make room.
        _tree.CgroupFile("memory.current", "4187593113");
        _tree.CgroupFile("memory.stat", $"anon {2560 * MiB}\nfile 1503238553\ninactive_file {3435973836 - 2 * GiB}\nactive_file 214748365");
        var sample = Sample(source, 0.25);

        Assert.Equal((4187593113.0 - (3435973836 - 2 * GiB)) / (4 * GiB), sample.Find(MetricNames.MemUtil)!.Value, 9);
    }

    [Fact]
    public void Cgroup_page_cache_without_memory_stat_the_charged_usage_is_used_and_said_once()
    {
        _tree.CgroupFile("cgroup.controllers", "cpu memory");
        _tree.CgroupFile("memory.max", (4 * GiB).ToString());
        _tree.CgroupFile("memory.current", (3 * GiB).ToString());
        using var source = Source();

        Sample(source, 0);
        var sample = Sample(source, 0.25);

        Assert.Equal(0.75, sample.Find(MetricNames.MemUtil)!.Value, 9);
        Assert.Contains("counts reclaimable page cache as used", Assert.Single(_notices), StringComparison.Ordinal);
    }
}
