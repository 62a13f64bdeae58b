using System.Net;
using System.Net.Sockets;

namespace Scarcity.Actors.ClusterTests.Harness;

/// <summary>Where the repository, its scripts and the built Host are, found from the test assembly's folder.</summary>
public static class RepoPaths
{
    /// <summary>The folder that holds <c>Scarcity.Actors.sln</c>.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>A script under <c>scripts/</c>.</summary>
    public static string Script(string name) => Path.Combine(Root, "scripts", name);

    /// <summary>
    /// The built <c>Scarcity.Actors.Host.dll</c>: <c>SCARCITY_HOST_DLL</c> when set, else the Host's output of this test
    /// assembly's configuration (Debug or Release), else the newest one built.
    /// </summary>
    public static string HostDll()
    {
        var fromEnv = Environment.GetEnvironmentVariable("SCARCITY_HOST_DLL");
        if (!string.IsNullOrEmpty(fromEnv))
            return File.Exists(fromEnv) ? Path.GetFullPath(fromEnv) : throw new FileNotFoundException($"SCARCITY_HOST_DLL '{fromEnv}' does not exist");
        var bin = Path.Combine(Root, "src", "Scarcity.Actors.Host", "bin");
        // AppContext.BaseDirectory is .../bin/<Configuration>/<tfm>/
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = baseDir.Parent?.Name ?? "Release";
        var tfm = baseDir.Name;
        var preferred = Path.Combine(bin, configuration, tfm, "Scarcity.Actors.Host.dll");
        if (File.Exists(preferred)) return preferred;
        var any = Directory.Exists(bin)
            ? Directory.EnumerateFiles(bin, "Scarcity.Actors.Host.dll", SearchOption.AllDirectories)
                .OrderByDescending(File.GetLastWriteTimeUtc).FirstOrDefault()
            : null;
        return any ?? throw new FileNotFoundException(
            $"Scarcity.Actors.Host.dll not built under {bin}: run 'dotnet build Scarcity.Actors.sln -c {configuration}' first");
    }

    /// <summary>A free TCP port on loopback (bound to 0, read, released).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Scarcity.Actors.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"Scarcity.Actors.sln not found above {AppContext.BaseDirectory}");
    }
}
