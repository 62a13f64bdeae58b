using System.Diagnostics;

namespace Scarcity.Actors.ClusterTests.Harness;

/// <summary>
/// A network namespace of its own, joined to this one by a veth pair with test addresses (10.213.X.1 on this side,
/// 10.213.X.2 inside, X random): a process started in it (<see cref="NodeOptions.Namespace"/>) is another host on a
/// link the spec can cut (<see cref="Cut"/>: this side's veth down, both directions lost) and heal. Needs root (or
/// CAP_NET_ADMIN) and iproute2; <see cref="Create"/> fails naming which is missing. <see cref="Dispose"/> deletes the
/// namespace and the pair, also after a failed spec.
/// </summary>
public sealed class NetworkNamespace : IDisposable
{
    private NetworkNamespace(string name, string hostVeth, int subnet)
    {
        Name = name;
        HostVeth = hostVeth;
        HostAddress = $"10.213.{subnet}.1";
        InsideAddress = $"10.213.{subnet}.2";
    }

    /// <summary>The namespace's name (<c>ip netns list</c>).</summary>
    public string Name { get; }

    /// <summary>This side's end of the veth pair.</summary>
    public string HostVeth { get; }

    /// <summary>This side's address on the link.</summary>
    public string HostAddress { get; }

    /// <summary>The namespace's address on the link.</summary>
    public string InsideAddress { get; }

    /// <summary>Creates the namespace and the link, both up.</summary>
    /// <exception cref="InvalidOperationException">The machine cannot create namespaces (no iproute2, not root, no CAP_NET_ADMIN), with the reason.</exception>
    public static NetworkNamespace Create()
    {
        if (Run("ip", "-V").ExitCode != 0)
            throw new InvalidOperationException("this machine cannot create network namespaces: 'ip' (iproute2) is not installed; apt-get install -y iproute2 (scripts/test.sh does)");
        var id = Guid.NewGuid().ToString("N")[..6];
        var ns = new NetworkNamespace($"scarcity-{id}", $"scv{id}h", Random.Shared.Next(1, 255));
        try
        {
            ns.Must("ip", "netns", "add", ns.Name);
            ns.Must("ip", "link", "add", ns.HostVeth, "type", "veth", "peer", "name", $"scv{id}n");
            ns.Must("ip", "link", "set", $"scv{id}n", "netns", ns.Name);
            ns.Must("ip", "addr", "add", ns.HostAddress + "/24", "dev", ns.HostVeth);
            ns.Must("ip", "link", "set", ns.HostVeth, "up");
            ns.Must("ip", "netns", "exec", ns.Name, "ip", "addr", "add", ns.InsideAddress + "/24", "dev", $"scv{id}n");
            ns.Must("ip", "netns", "exec", ns.Name, "ip", "link", "set", $"scv{id}n", "up");
            ns.Must("ip", "netns", "exec", ns.Name, "ip", "link", "set", "lo", "up");
            return ns;
        }
        catch
        {
            ns.Dispose();
            throw;
        }
    }

    /// <summary>Cuts the link: nothing passes either way until <see cref="Heal"/>.</summary>
    public void Cut() => Must("ip", "link", "set", HostVeth, "down");

    /// <summary>Restores the link.</summary>
    public void Heal() => Must("ip", "link", "set", HostVeth, "up");

    /// <inheritdoc />
    public void Dispose()
    {
        Run("ip", "netns", "del", Name); // takes the inside end, and with it the pair
        Run("ip", "link", "del", HostVeth);
    }

    private void Must(params string[] args)
    {
        var (code, output) = Run(args);
        if (code != 0)
            throw new InvalidOperationException(
                $"this machine cannot create network namespaces: '{string.Join(' ', args)}' failed ({code}): {output.Trim()} (needs root or CAP_NET_ADMIN)");
    }

    private static (int ExitCode, string Output) Run(params string[] args)
    {
        var psi = new ProcessStartInfo(args[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args.Skip(1)) psi.ArgumentList.Add(arg);
        try
        {
            using var process = Process.Start(psi)!;
            var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (127, e.Message);
        }
    }
}
