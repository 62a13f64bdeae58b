using Scarcity.Actors.Contracts;
using Scarcity.Actors.Core.Tests.FieldCases;
using Scarcity.Actors.Sensing;
using Xunit;
using static Scarcity.Actors.Core.Tests.Sensing.ProcTree;

namespace Scarcity.Actors.Core.Tests.Sensing;

/// <summary>
/// Field case <c>cgroup-parent-limit</c>: the limits sit on a parent cgroup (a systemd slice, a Kubernetes pod) and the
/// process's own cgroup says <c>max</c>. The source walks up from the process's cgroup (<c>/proc/self/cgroup</c>) to the
/// root of the mount and applies the tightest limit on the way, for v2 and v1 alike.
/// </summary>
public sealed class CgroupParentLimitSpecs : LinuxSourceSpecBase
{
    [Fact]
    public void Cgroup_parent_limit_v2_walks_up_to_the_nearest_limited_ancestor_4_GiB_and_2_CPUs()
    {
        _tree.Overlay(FieldCase.File("cgroup-parent-limit"));
        using var source = Source();

        Sample(source, 0);
        _tree.CgroupFile("gov.slice/gov.service/cpu.stat", "usage_usec 1500000"); // 0.5 s of CPU in 1 s
        var second = Sample(source, 1);

        Assert.Equal(CgroupVersion.V2, source.Cgroup);
        Assert.Equal(4 * GiB, source.MemoryLimitBytes);
        Assert.Equal(2.0, source.CpuLimitCores);
        Assert.Equal(0.25, second.Find(MetricNames.CpuUtil)!.Value, 9);
        // The slice has no memory.current in this tree: the process's own cgroup's usage (3.5 GiB) is measured against it.
        Assert.Equal(0.875, second.Find(MetricNames.MemUtil)!.Value, 9);
    }

    [Fact]
    public void Cgroup_parent_limit_v1_walks_up_each_hierarchy()
    {
        _tree.ProcFile("self/cgroup", "5:memory:/gov.slice/gov.service\n4:cpu,cpuacct:/gov.slice/gov.service\n1:name=systemd:/gov.slice/gov.service\n");
        const string unlimited = "9223372036854771712";
        _tree.CgroupFile("memory/memory.limit_in_bytes", unlimited);
        _tree.CgroupFile("memory/gov.slice/memory.limit_in_bytes", (4 * GiB).ToString());
        _tree.CgroupFile("memory/gov.slice/gov.service/memory.limit_in_bytes", unlimited);
        _tree.CgroupFile("memory/gov.slice/gov.service/memory.usage_in_bytes", (1 * GiB).ToString());
        _tree.CgroupFile("cpu/cpu.cfs_quota_us", "-1");
        _tree.CgroupFile("cpu/cpu.cfs_period_us", "100000");
        _tree.CgroupFile("cpu/gov.slice/cpu.cfs_quota_us", "200000");
        _tree.CgroupFile("cpu/gov.slice/cpu.cfs_period_us", "100000");
        _tree.CgroupFile("cpu/gov.slice/gov.service/cpu.cfs_quota_us", "-1");
        _tree.CgroupFile("cpu/gov.slice/gov.service/cpu.cfs_period_us", "100000");
        _tree.CgroupFile("cpuacct/gov.slice/gov.service/cpuacct.usage", "5000000000");
        using var source = Source();

        var first = Sample(source, 0).Find(MetricNames.MemUtil);
        _tree.CgroupFile("cpuacct/gov.slice/gov.service/cpuacct.usage", "6000000000"); // 1 s of CPU in 1 s
        var second = Sample(source, 1);

        Assert.Equal(CgroupVersion.V1, source.Cgroup);
        Assert.Equal(4 * GiB, source.MemoryLimitBytes);
        Assert.Equal(2.0, source.CpuLimitCores);
        Assert.Equal(0.25, first!.Value, 9);
        Assert.Equal(0.5, second.Find(MetricNames.CpuUtil)!.Value, 9);
    }

    [Fact]
    public void Cgroup_parent_limit_usage_is_read_where_the_limit_is_so_siblings_count()
    {
        // The slice's 4 GiB is shared: our service uses 1 GiB, a sibling 2.5 GiB; the OOM killer acts on the slice's total.
        _tree.CgroupFile("cgroup.controllers", "cpu memory");
        _tree.ProcFile("self/cgroup", "0::/gov.slice/gov.service\n");
        _tree.CgroupFile("gov.slice/memory.max", (4 * GiB).ToString());
        _tree.CgroupFile("gov.slice/memory.current", (3584 * MiB).ToString());
        _tree.CgroupFile("gov.slice/gov.service/memory.max", "max");
        _tree.CgroupFile("gov.slice/gov.service/memory.current", (1 * GiB).ToString());
        _tree.CgroupFile("gov.slice/sibling.service/memory.current", (2560 * MiB).ToString());
        using var source = Source();

        var sample = Sample(source, 0);

        Assert.Equal(0.875, sample.Find(MetricNames.MemUtil)!.Value, 9);
    }

    [Theory]
    [InlineData(1L, 4L, 1L)] // a tighter limit on the process's own cgroup is the nearest one
    [InlineData(8L, 4L, 4L)] // a looser one below the slice's: the kernel enforces the slice's
    [InlineData(0L, 4L, 4L)] // "max" on the process's own cgroup
    public void Cgroup_parent_limit_the_tightest_limit_on_the_way_up_applies(long ownGiB, long sliceGiB, long expectedGiB)
    {
        _tree.CgroupFile("cgroup.controllers", "cpu memory");
        _tree.ProcFile("self/cgroup", "0::/gov.slice/gov.service\n");
        _tree.CgroupFile("gov.slice/memory.max", (sliceGiB * GiB).ToString());
        _tree.CgroupFile("gov.slice/gov.service/memory.max", ownGiB == 0 ? "max" : (ownGiB * GiB).ToString());
        _tree.CgroupFile("gov.slice/gov.service/memory.current", (512 * MiB).ToString());
        using var source = Source();

        Sample(source, 0);

        Assert.Equal(expectedGiB * GiB, source.MemoryLimitBytes);
    }

    [Fact]
    public void Cgroup_parent_limit_a_limit_set_on_an_ancestor_later_is_found_at_the_next_refresh()
    {
        _tree.Overlay(FieldCase.File("cgroup-parent-limit"));
        _tree.CgroupFile("gov.slice/memory.max", "max");
        _tree.CgroupFile("gov.slice/cpu.max", "max 100000");
        using var source = Source();
        Sample(source, 0);
        Assert.Null(source.MemoryLimitBytes);
        Assert.Null(source.CpuLimitCores);

        _tree.CgroupFile("gov.slice/memory.max", (4 * GiB).ToString());
        _tree.CgroupFile("gov.slice/cpu.max", "200000 100000");
        Sample(source, 10);

        Assert.Equal(4 * GiB, source.MemoryLimitBytes);
        Assert.Equal(2.0, source.CpuLimitCores);
    }
}
