using Scarcity.Actors.Contracts;
using Scarcity.Actors.Core.Tests.FieldCases;
using Scarcity.Actors.Sensing;
using Xunit;
using static Scarcity.Actors.Core.Tests.Sensing.ProcTree;

namespace Scarcity.Actors.Core.Tests.Sensing;

/// <summary>
/// Field case <c>net-virtual-interfaces</c>: bridges and veth pairs repeat traffic that already crossed the physical NIC.
/// Host totals count physical interfaces only (sysfs decides where it exists, names where it does not), and each
/// counted interface has its own labelled series. Likewise for disks: whole disks only, so a partition's I/O is not
/// counted twice.
/// </summary>
public sealed class NetVirtualInterfacesSpecs : LinuxSourceSpecBase
{
    private static readonly string Eth0Recv = MetricNames.Labelled(MetricNames.NetRecvMb, MetricNames.InterfaceLabel, "eth0");
    private static readonly string Eth0Sent = MetricNames.Labelled(MetricNames.NetSentMb, MetricNames.InterfaceLabel, "eth0");

    private static void AssertRate(MetricBuffer sample, string series, double expected)
    {
        var value = sample.Find(series);
        Assert.True(value.HasValue, $"{series} was not reported");
        Assert.Equal(expected, value.Value, 9);
    }

    private static string[] SeriesOf(MetricBuffer sample, string metric) =>
        [.. sample.Values.ToArray().Select(v => v.Metric).Where(m => m.StartsWith(metric + "{", StringComparison.Ordinal)).Order()];

    [Fact]
    public void Net_virtual_interfaces_host_totals_count_the_physical_nic_only_and_each_has_a_labelled_series()
    {
        var input = FieldCase.File("net-virtual-interfaces", "proc", "net");
        using var source = Source(); // no sysfs in this tree: the names decide
        _tree.ProcFile(Path.Combine("net", "dev"), File.ReadAllText(Path.Combine(input, "dev.t0")));
        Sample(source, 0);

        _tree.ProcFile(Path.Combine("net", "dev"), File.ReadAllText(Path.Combine(input, "dev.t1")));
        var sample = Sample(source, 1);

        // eth0 received 10 MiB; docker0 and the veth each sent it on to a container.
        AssertRate(sample, MetricNames.NetRecvMb, 10.0);
        AssertRate(sample, MetricNames.NetSentMb, 0.0);
        AssertRate(sample, Eth0Recv, 10.0);
        AssertRate(sample, Eth0Sent, 0.0);
        Assert.Equal([Eth0Recv], SeriesOf(sample, MetricNames.NetRecvMb));
        Assert.Empty(_notices);
    }

    [Fact]
    public void Net_virtual_interfaces_sysfs_decides_over_names()
    {
        // A physical NIC with a predictable name, one named eth0, and a veth renamed eth1 that is a bridge's port.
        _tree.SysInterface("lo", physical: false);
        _tree.SysInterface("ens5", physical: true);
        _tree.SysInterface("eth0", physical: true);
        _tree.SysInterface("eth1", physical: false, bridgePort: true);
        _tree.SysInterface("docker0", physical: false, bridge: true);
        _tree.SysInterface("wg0", physical: false);
        _tree.NetDev(("lo", 0, 0), ("ens5", 0, 0), ("eth0", 0, 0), ("eth1", 0, 0), ("docker0", 0, 0), ("wg0", 0, 0));
        using var source = Source();
        Sample(source, 0);

        _tree.NetDev(("lo", 50 * MiB, 50 * MiB), ("ens5", 4 * MiB, 1 * MiB), ("eth0", 2 * MiB, 0), ("eth1", 0, 3 * MiB),
            ("docker0", 3 * MiB, 0), ("wg0", 1 * MiB, 1 * MiB));
        var sample = Sample(source, 1);

        AssertRate(sample, MetricNames.NetRecvMb, 6.0);
        AssertRate(sample, MetricNames.NetSentMb, 1.0);
        Assert.Equal(
            [MetricNames.Labelled(MetricNames.NetRecvMb, MetricNames.InterfaceLabel, "ens5"), Eth0Recv],
            SeriesOf(sample, MetricNames.NetRecvMb));
    }

    [Fact]
    public void Net_virtual_interfaces_a_containers_own_network_namespace_counts_its_veth_and_says_so_once()
    {
        // Inside a container: eth0 is the container's end of a veth pair, virtual and not a bridge's port.
        _tree.SysInterface("lo", physical: false);
        _tree.SysInterface("eth0", physical: false);
        _tree.NetDev(("lo", 0, 0), ("eth0", 0, 0));
        using var source = Source();
        Sample(source, 0);

        _tree.NetDev(("lo", 9 * MiB, 9 * MiB), ("eth0", 3 * MiB, 1 * MiB));
        var sample = Sample(source, 1);

        AssertRate(sample, MetricNames.NetRecvMb, 3.0);
        AssertRate(sample, MetricNames.NetSentMb, 1.0);
        AssertRate(sample, Eth0Recv, 3.0);
        Sample(source, 2);
        Assert.Contains("no physical network interface", Assert.Single(_notices), StringComparison.Ordinal);
    }

    [Fact]
    public void Net_virtual_interfaces_a_veth_only_host_counts_none_of_the_bridged_traffic()
    {
        // No sysfs, no physical NIC: only loopback, a bridge and the host ends of container links.
        _tree.NetDev(("lo", 0, 0), ("docker0", 0, 0), ("veth1a2b3c", 0, 0), ("veth9f8e7d", 0, 0), ("br-5f2a", 0, 0));
        using var source = Source();
        Sample(source, 0);

        _tree.NetDev(("lo", MiB, MiB), ("docker0", 5 * MiB, 5 * MiB), ("veth1a2b3c", 5 * MiB, 5 * MiB), ("veth9f8e7d", 5 * MiB, 0),
            ("br-5f2a", MiB, MiB));
        var sample = Sample(source, 1);

        AssertRate(sample, MetricNames.NetRecvMb, 0.0);
        AssertRate(sample, MetricNames.NetSentMb, 0.0);
        Assert.Empty(SeriesOf(sample, MetricNames.NetRecvMb));
    }

    [Theory]
    [InlineData("lo", "Ignored")]
    [InlineData("eth0", "Counted")]
    [InlineData("enp3s0", "Counted")]
    [InlineData("ib0", "Counted")]
    [InlineData("docker0", "Ignored")]
    [InlineData("veth1a2b3c", "Ignored")]
    [InlineData("br-5f2a9c", "Ignored")]
    [InlineData("virbr0", "Ignored")]
    [InlineData("cni0", "Ignored")]
    [InlineData("cali12ab", "Ignored")]
    [InlineData("tap0", "Ignored")]
    [InlineData("flannel.1", "CountedWhenAlone")]
    [InlineData("tun0", "CountedWhenAlone")]
    [InlineData("wg0", "CountedWhenAlone")]
    public void Net_virtual_interfaces_without_sysfs_names_decide(string name, string role) =>
        Assert.Equal(Enum.Parse<DeviceRole>(role), DeviceClasses.Interface(_tree.Sys, name));

    [Fact]
    public void Net_virtual_interfaces_a_partitioned_disk_is_counted_once()
    {
        // No sysfs: names decide. sda1 and sda2 repeat sda's I/O.
        _tree.Diskstats(("sda", 0, 0), ("sda1", 0, 0), ("sda2", 0, 0));
        using var source = Source();
        Sample(source, 0);

        _tree.Diskstats(("sda", 4096, 2048), ("sda1", 2048, 2048), ("sda2", 2048, 0));
        var sample = Sample(source, 1);

        AssertRate(sample, MetricNames.DiskReadMb, 2.0);
        AssertRate(sample, MetricNames.DiskWriteMb, 1.0);
        AssertRate(sample, MetricNames.Labelled(MetricNames.DiskReadMb, MetricNames.DiskLabel, "sda"), 2.0);
        Assert.Single(SeriesOf(sample, MetricNames.DiskReadMb));
    }

    [Fact]
    public void Net_virtual_interfaces_sysfs_tells_whole_disks_from_partitions_and_virtual_devices_whatever_their_names()
    {
        // xvda1 is a whole disk (a Xen PV guest with no partition table): the names alone would drop it.
        _tree.SysBlock("xvda1", SysBlockKind.WholeDisk);
        _tree.SysBlock("nvme0n1", SysBlockKind.WholeDisk);
        _tree.SysBlock("nvme0n1p1", SysBlockKind.Partition);
        _tree.SysBlock("dm-0", SysBlockKind.Virtual);
        _tree.SysBlock("loop0", SysBlockKind.Virtual);
        _tree.Diskstats(("xvda1", 0, 0), ("nvme0n1", 0, 0), ("nvme0n1p1", 0, 0), ("dm-0", 0, 0), ("loop0", 0, 0));
        using var source = Source();
        Sample(source, 0);

        _tree.Diskstats(("xvda1", 2048, 0), ("nvme0n1", 4096, 2048), ("nvme0n1p1", 4096, 2048), ("dm-0", 4096, 2048), ("loop0", 9999, 9999));
        var sample = Sample(source, 1);

        AssertRate(sample, MetricNames.DiskReadMb, 3.0);
        AssertRate(sample, MetricNames.DiskWriteMb, 1.0);
        Assert.Equal(
            [MetricNames.Labelled(MetricNames.DiskReadMb, MetricNames.DiskLabel, "nvme0n1"), MetricNames.Labelled(MetricNames.DiskReadMb, MetricNames.DiskLabel, "xvda1")],
            SeriesOf(sample, MetricNames.DiskReadMb));
    }

    [Fact]
    public void Net_virtual_interfaces_classification_stays_out_of_the_per_sample_path_which_allocates_nothing()
    {
        // A container host with everything the source reads: sysfs, several disks and interfaces, a limit on a parent
        // cgroup (and none at the root, whose absent files are retried), memory.stat, PSI.
        _tree.SysInterface("eth0", physical: true);
        _tree.SysInterface("docker0", physical: false, bridge: true);
        _tree.SysInterface("veth1", physical: false, bridgePort: true);
        _tree.SysBlock("sda", SysBlockKind.WholeDisk);
        _tree.SysBlock("sda1", SysBlockKind.Partition);
        _tree.SysBlock("loop0", SysBlockKind.Virtual);
        _tree.NetDev(("lo", 0, 0), ("eth0", 1, 1), ("docker0", 1, 1), ("veth1", 1, 1));
        _tree.Diskstats(("loop0", 1, 1), ("sda", 1, 1), ("sda1", 1, 1));
        _tree.Overlay(FieldCase.File("cgroup-parent-limit"));
        _tree.CgroupFile("gov.slice/gov.service/memory.stat", "anon 1073741824\ninactive_file 536870912\n");
        using var source = Source();
        for (var i = 0; i < 100; i++) Sample(source, i * 0.25); // past a limit refresh, so every file is open

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 100; i < 300; i++) Sample(source, i * 0.25);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.NotNull(_buffer.Find(Eth0Recv));
        Assert.NotNull(_buffer.Find(MetricNames.Labelled(MetricNames.DiskReadMb, MetricNames.DiskLabel, "sda")));
        Assert.NotNull(_buffer.Find(MetricNames.MemUtil));
        Assert.Equal(2.0, source.CpuLimitCores);
    }
}
