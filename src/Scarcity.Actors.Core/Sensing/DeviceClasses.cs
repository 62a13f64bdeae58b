namespace Scarcity.Actors.Sensing;

/// <summary>Whether a device's counters enter a host total.</summary>
internal enum DeviceRole
{
    /// <summary>A physical network interface or a whole disk: always counted.</summary>
    Counted,

    /// <summary>
    /// A virtual interface that is neither a bridge nor enslaved to one (a container's own <c>eth0</c>, which is a veth;
    /// a tunnel; a VLAN): counted only where no physical interface is there to count, as in a container's own network
    /// namespace. Beside a physical interface its traffic also crosses that interface.
    /// </summary>
    CountedWhenAlone,

    /// <summary>Loopback, bridges and their ports, partitions, loop/ram/zram/dm/md devices: they repeat traffic or I/O counted elsewhere.</summary>
    Ignored,
}

/// <summary>
/// Tells physical devices from virtual and stacked ones, so that each byte enters a host total once. Sysfs is asked
/// where it has the device; names decide only where it has not (no sysfs mounted, or a device it does not list). Called
/// once per device, when the device is first seen, never per sample.
/// </summary>
internal static class DeviceClasses
{
    // Bridges, and the host ends of container and VM links attached to them: their traffic is a copy.
    private static readonly string[] StackedInterfacePrefixes = ["docker", "br", "virbr", "cni", "veth", "cali", "lxc", "vnet", "tap"];

    // Other virtual interfaces (tunnels, overlays, aggregates): their traffic also crosses a physical interface.
    private static readonly string[] VirtualInterfacePrefixes =
        ["tun", "flannel", "vxlan", "wg", "ifb", "dummy", "bond", "team", "kube-", "cilium", "weave", "genev"];

    /// <summary>
    /// A network interface: <c>/sys/class/net/&lt;if&gt;/device</c> exists for a physical one; one under
    /// <c>/sys/devices/virtual/net</c> is virtual, and ignored when it is a bridge (<c>bridge/</c>) or a bridge's port or
    /// an aggregate's member (<c>brport/</c>, <c>master</c>). Without sysfs: <c>lo</c>, <c>docker*</c>, <c>br*</c>,
    /// <c>virbr*</c>, <c>cni*</c>, <c>veth*</c>, <c>cali*</c>, <c>lxc*</c>, <c>vnet*</c>, <c>tap*</c> are ignored; <c>tun*</c>,
    /// <c>flannel*</c>, <c>vxlan*</c>, <c>wg*</c> and other known virtual names count only where nothing physical does.
    /// </summary>
    public static DeviceRole Interface(string sysRoot, string name)
    {
        if (name == "lo") return DeviceRole.Ignored;
        var classDir = Path.Join(sysRoot, "class", "net", name);
        var virtualDir = Path.Join(sysRoot, "devices", "virtual", "net", name);
        var inClass = Directory.Exists(classDir);
        if (inClass || Directory.Exists(virtualDir))
        {
            if (inClass && Path.Exists(Path.Join(classDir, "device"))) return DeviceRole.Counted;
            var dir = inClass ? classDir : virtualDir;
            return Path.Exists(Path.Join(dir, "bridge")) || Path.Exists(Path.Join(dir, "brport")) || Path.Exists(Path.Join(dir, "master"))
                ? DeviceRole.Ignored
                : DeviceRole.CountedWhenAlone;
        }
        if (StartsWithAny(name, StackedInterfacePrefixes)) return DeviceRole.Ignored;
        return StartsWithAny(name, VirtualInterfacePrefixes) ? DeviceRole.CountedWhenAlone : DeviceRole.Counted;
    }

    /// <summary>
    /// A block device of <c>/proc/diskstats</c>: a whole disk is under <c>/sys/block</c>; a partition has a
    /// <c>partition</c> file (<c>/sys/class/block/&lt;dev&gt;/partition</c>); loop, ram, zram, dm and md devices are under
    /// <c>/sys/devices/virtual/block</c>. Without sysfs, <see cref="LinuxSensorSource.IsWholeDisk"/> decides by name.
    /// </summary>
    public static DeviceRole Disk(string sysRoot, string name)
    {
        var classDir = Path.Join(sysRoot, "class", "block", name);
        var blockDir = Path.Join(sysRoot, "block", name);
        var isWhole = Directory.Exists(blockDir);
        if (isWhole || Directory.Exists(classDir))
        {
            if (Path.Exists(Path.Join(classDir, "partition")) || Path.Exists(Path.Join(blockDir, "partition"))) return DeviceRole.Ignored;
            if (Directory.Exists(Path.Join(sysRoot, "devices", "virtual", "block", name))) return DeviceRole.Ignored;
            return isWhole ? DeviceRole.Counted : DeviceRole.Ignored;
        }
        return LinuxSensorSource.IsWholeDisk(System.Text.Encoding.ASCII.GetBytes(name)) ? DeviceRole.Counted : DeviceRole.Ignored;
    }

    private static bool StartsWithAny(string name, string[] prefixes)
    {
        foreach (var prefix in prefixes)
            if (name.StartsWith(prefix, StringComparison.Ordinal)) return true;
        return false;
    }
}
