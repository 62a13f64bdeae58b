using System.Globalization;
using System.Text;

namespace Scarcity.Actors.Core.Tests.Sensing;

/// <summary>
/// A fake procfs and cgroup mount in a temp directory, in the kernel's own text formats. Rewriting a file keeps its
/// inode (File.WriteAllText truncates), so a sensor's open handle sees the new content as it would on /proc.
/// </summary>
public sealed class ProcTree : IDisposable
{
    public const long KiB = 1024;
    public const long MiB = 1024 * KiB;
    public const long GiB = 1024 * MiB;

    public ProcTree()
    {
        Root = Path.Combine(Path.GetTempPath(), "scarcity-proc-" + Guid.NewGuid().ToString("N"));
        Proc = Path.Combine(Root, "proc");
        Cgroup = Path.Combine(Root, "cgroup");
        Sys = Path.Combine(Root, "sys"); // absent until a spec builds a fake sysfs: the source then falls back on names
        Directory.CreateDirectory(Path.Combine(Proc, "net"));
        Directory.CreateDirectory(Cgroup);
    }

    public string Root { get; }
    public string Proc { get; }
    public string Cgroup { get; }
    public string Sys { get; }

    /// <summary>
    /// Copies a field case's inputs over this tree: its <c>proc/</c>, <c>cgroup/</c> and <c>sys/</c> folders onto
    /// <see cref="Proc"/>, <see cref="Cgroup"/> and <see cref="Sys"/> (the files the case does not have keep this tree's).
    /// </summary>
    public ProcTree Overlay(string caseRoot)
    {
        foreach (var (from, to) in new[] { ("proc", Proc), ("cgroup", Cgroup), ("sys", Sys) })
        {
            var source = Path.Combine(caseRoot, from);
            if (!Directory.Exists(source)) continue;
            foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
                Write(Path.Combine(to, Path.GetRelativePath(source, file)), File.ReadAllText(file));
        }
        return this;
    }

    /// <summary>A host with every /proc file the sensor reads: idle CPU, 16 GiB with 4 GiB available, PSI present.</summary>
    public static ProcTree Host(bool psi = true)
    {
        var tree = new ProcTree();
        tree.Stat(user: 100, system: 50, idle: 800, iowait: 50);
        tree.Meminfo(totalKb: 16 * GiB / KiB, availableKb: 4 * GiB / KiB, swapTotalKb: 1 * GiB / KiB, swapFreeKb: 768 * MiB / KiB);
        tree.Diskstats(("vda", 0, 0));
        tree.NetDev(("eth0", 0, 0));
        if (psi)
        {
            tree.Pressure("cpu", 3.43);
            tree.Pressure("memory", 0);
            tree.Pressure("io", 12.5);
        }
        return tree;
    }

    public void Stat(ulong user, ulong system, ulong idle, ulong iowait, ulong nice = 0, ulong irq = 0, ulong softirq = 0, ulong steal = 0) =>
        Write(Path.Combine(Proc, "stat"),
            $"cpu  {user} {nice} {system} {idle} {iowait} {irq} {softirq} {steal} 0 0\n" +
            $"cpu0 {user} {nice} {system} {idle} {iowait} {irq} {softirq} {steal} 0 0\n" +
            "intr 12345 0 1 2 3 4 5\nctxt 99\nbtime 1700000000\nprocesses 10\nprocs_running 1\nprocs_blocked 0\n");

    public void Meminfo(long totalKb, long availableKb, long swapTotalKb, long swapFreeKb) =>
        Write(Path.Combine(Proc, "meminfo"),
            $"MemTotal:       {totalKb} kB\nMemFree:        {availableKb / 2} kB\nMemAvailable:   {availableKb} kB\n" +
            "Buffers:           15684 kB\nCached:          1015512 kB\nSwapCached:            0 kB\n" +
            $"Active:           330704 kB\nSwapTotal:      {swapTotalKb} kB\nSwapFree:       {swapFreeKb} kB\nDirty:               276 kB\n");

    /// <summary>/proc/diskstats with (name, sectors read, sectors written) per device.</summary>
    public void Diskstats(params (string Name, ulong SectorsRead, ulong SectorsWritten)[] devices)
    {
        var sb = new StringBuilder();
        var minor = 0;
        foreach (var (name, read, written) in devices)
            sb.Append(CultureInfo.InvariantCulture,
                $" 254       {minor++} {name} 6205 3333 {read} 5108 2393 10085 {written} 45266 0 3876 51074 3024 72 38480 697 3 1\n");
        Write(Path.Combine(Proc, "diskstats"), sb.ToString());
    }

    /// <summary>/proc/net/dev with (name, bytes received, bytes sent) per interface.</summary>
    public void NetDev(params (string Name, ulong Received, ulong Sent)[] interfaces)
    {
        var sb = new StringBuilder();
        sb.Append("Inter-|   Receive                                                |  Transmit\n");
        sb.Append(" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n");
        foreach (var (name, received, sent) in interfaces)
            sb.Append(CultureInfo.InvariantCulture,
                $"{name,6}: {received,8}    5146    0    0    0     0          0         0 {sent,8}    3675    0    0    0     0       0          0\n");
        Write(Path.Combine(Proc, "net", "dev"), sb.ToString());
    }

    public void Pressure(string resource, double someAvg10) =>
        Write(Path.Combine(Proc, "pressure", resource),
            string.Create(CultureInfo.InvariantCulture,
                $"some avg10={someAvg10:0.00} avg60=9.82 avg300=5.20 total=20728284\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"));

    /// <summary>
    /// Makes <c>/proc/pressure/&lt;resource&gt;</c> a file that exists and opens but whose every read fails: a symlink to
    /// <c>/proc/self/mem</c>, whose read at offset 0 fails with EIO (field case psi-read-fails).
    /// </summary>
    public void PressureUnreadable(string resource)
    {
        var path = Path.Combine(Proc, "pressure", resource);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.Delete(path);
        File.CreateSymbolicLink(path, "/proc/self/mem");
    }

    /// <summary>
    /// A network interface in the fake sysfs: a physical one has <c>class/net/&lt;if&gt;/device</c>; a virtual one is under
    /// <c>devices/virtual/net</c>, with <c>bridge/</c> when it is a bridge and <c>brport/</c> when it is a bridge's port.
    /// </summary>
    public void SysInterface(string name, bool physical, bool bridge = false, bool bridgePort = false)
    {
        var classDir = Path.Combine(Sys, "class", "net", name);
        Directory.CreateDirectory(classDir);
        if (physical)
        {
            Directory.CreateDirectory(Path.Combine(classDir, "device"));
            return;
        }
        Directory.CreateDirectory(Path.Combine(Sys, "devices", "virtual", "net", name));
        if (bridge) Directory.CreateDirectory(Path.Combine(classDir, "bridge"));
        if (bridgePort) Directory.CreateDirectory(Path.Combine(classDir, "brport"));
    }

    /// <summary>A block device in the fake sysfs: a whole disk is under <c>block/</c>, a partition has a <c>partition</c> file, a virtual device is under <c>devices/virtual/block</c>.</summary>
    public void SysBlock(string name, SysBlockKind kind)
    {
        var classDir = Path.Combine(Sys, "class", "block", name);
        Directory.CreateDirectory(classDir);
        if (kind == SysBlockKind.Partition)
        {
            Write(Path.Combine(classDir, "partition"), "1\n");
            return;
        }
        Directory.CreateDirectory(Path.Combine(Sys, "block", name));
        if (kind == SysBlockKind.Virtual) Directory.CreateDirectory(Path.Combine(Sys, "devices", "virtual", "block", name));
    }

    /// <summary>Writes a file under the cgroup mount, e.g. <c>CgroupFile("memory.max", "max")</c>.</summary>
    public void CgroupFile(string relativePath, string content) => Write(Path.Combine(Cgroup, relativePath), content + "\n");

    public void ProcFile(string relativePath, string content) => Write(Path.Combine(Proc, relativePath), content);

    public void Delete(string relativeToProc) => File.Delete(Path.Combine(Proc, relativeToProc));

    private static void Write(string path, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // a leftover temp directory is harmless
        }
    }
}

public enum SysBlockKind
{
    WholeDisk,
    Partition,
    Virtual,
}
