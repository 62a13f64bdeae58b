using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Scarcity.Actors.ClusterTests.Harness;

/// <summary>What one governor process is started with; it becomes the <c>Scarcity</c> section of its JSON config.</summary>
/// <param name="Name">Name of the process in logs (<c>node1</c>).</param>
/// <param name="Host">Its <c>Scarcity:Host</c> (<c>gpu-node-1</c>).</param>
/// <param name="Port">Its cluster port.</param>
/// <param name="SeedPorts">Ports of the seed nodes on 127.0.0.1.</param>
/// <param name="ConnectionString">The PostgreSQL connection string.</param>
/// <param name="Roles">Its roles (<c>governor</c>, <c>sensor</c>).</param>
/// <param name="SensorInterval">Sampling interval; 500 ms by default, easier on a 2-core machine than 250.</param>
/// <param name="StableAfterSeconds">The split-brain resolver's stable-after (<c>Scarcity:Cluster:StableAfter</c>).</param>
/// <param name="MetricsPort">Its <c>Scarcity:Metrics:Port</c> on 127.0.0.1; 0 (off) by default, so nodes never compete for 9464.</param>
/// <param name="Provider">Its <c>Scarcity:Persistence:Provider</c>: PostgreSQL by default, or Sqlite (one node alone).</param>
/// <param name="ExtraArgs">Host flags after <c>--config</c>, e.g. <c>--demo</c>.</param>
/// <param name="GatewayPort">Its <c>Scarcity:Gateway:Port</c> on 127.0.0.1; 0 (the gateway off) by default, so nodes never compete for 50051.</param>
/// <param name="Tls">Its <c>Scarcity:Cluster:Tls</c> (enabled) when given; plain TCP otherwise.</param>
/// <param name="Hostname">Its <c>Scarcity:Cluster:Hostname</c>, the address it binds; seed nodes are on the same one.</param>
/// <param name="Namespace">The network namespace it runs in (<c>ip netns exec</c>); null: this process's.</param>
/// <param name="SeedHostname">The address of the seed nodes; null: <paramref name="Hostname"/>.</param>
/// <param name="DownRemovalMargin">Its <c>Scarcity:Cluster:DownRemovalMargin</c>; zero (as long as stable-after) by default.</param>
public sealed record NodeOptions(
    string Name, string Host, int Port, IReadOnlyList<int> SeedPorts, string ConnectionString,
    IReadOnlyList<string>? Roles = null, TimeSpan? SensorInterval = null, int StableAfterSeconds = 20,
    int MetricsPort = 0, string Provider = "PostgreSQL", IReadOnlyList<string>? ExtraArgs = null, int GatewayPort = 0,
    Scarcity.Actors.Contracts.RemotingTlsOptions? Tls = null, string Hostname = "127.0.0.1", TimeSpan DownRemovalMargin = default,
    string? Namespace = null, string? SeedHostname = null)
{
    /// <summary>The <c>akka.tcp://scarcity@127.0.0.1:PORT</c> address of a node on loopback (<c>akka.ssl.tcp</c> with <paramref name="tls"/>).</summary>
    public static string Address(int port, bool tls = false, string hostname = "127.0.0.1") =>
        $"{Scarcity.Actors.Contracts.RemotingTls.Scheme(tls)}://scarcity@{hostname}:{port}";

    /// <summary>This node's own address.</summary>
    public string SelfAddress => Address(Port, Tls is not null, Hostname);

    /// <summary>The JSON configuration file's content.</summary>
    public string ToJson() => JsonSerializer.Serialize(new
    {
        Scarcity = new
        {
            Host,
            Sensor = new { Interval = (SensorInterval ?? TimeSpan.FromMilliseconds(500)).ToString("c") },
            Gpu = new { Enabled = false },
            Persistence = new { Provider, ConnectionString },
            Metrics = new { Port = MetricsPort, Address = "127.0.0.1" },
            Gateway = new { Enabled = GatewayPort != 0, Port = GatewayPort == 0 ? 50051 : GatewayPort, Address = "127.0.0.1" },
            Cluster = new
            {
                Hostname,
                Port,
                SeedNodes = SeedPorts.Select(p => Address(p, Tls is not null, SeedHostname ?? Hostname)).ToArray(),
                Roles = (Roles ?? ["governor", "sensor"]).ToArray(),
                StableAfter = TimeSpan.FromSeconds(StableAfterSeconds).ToString("c"),
                DownRemovalMargin = DownRemovalMargin.ToString("c"),
                Tls = Tls is null ? null : new
                {
                    Enabled = true, Tls.CertificatePath, CertificatePassword = Tls.CertificatePassword ?? "",
                    CaCertificatePath = Tls.CaCertificatePath ?? "", Tls.RequireMutualAuthentication,
                },
            },
            // In a cluster a decision is journalled before its Throttle leaves: a failover never re-issues a sequence.
            Actuator = new { PersistBeforeSend = true },
        },
        Logging = new { LogLevel = new { Default = "Warning" } },
    }, new JsonSerializerOptions { WriteIndented = true, DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull });
}

/// <summary>
/// One governor process: <c>dotnet Scarcity.Actors.Host.dll --config &lt;generated json&gt;</c> in a folder of its own,
/// stdout and stderr captured (and copied to <c>&lt;log folder&gt;/&lt;name&gt;.log</c>). <see cref="Kill"/> is kill -9 of
/// the whole process tree; <see cref="StopAsync"/> is SIGTERM (the node leaves the cluster), then kill.
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly StreamWriter _log;
    private readonly Lock _logLock = new();

    /// <summary>How it was started.</summary>
    public NodeOptions Options { get; }

    /// <summary>Its folder (config file, working directory).</summary>
    public string Directory { get; }

    /// <summary>The copy of its output.</summary>
    public string LogFile { get; }

    /// <summary>Its process id.</summary>
    public int Pid => _process.Id;

    /// <summary>Whether it has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Its exit code once it has exited (its output read to the end), else null.</summary>
    public int? ExitCode => _process.HasExited && _process.WaitForExit(5_000) ? _process.ExitCode : null;

    /// <summary>Every line it printed so far, stdout and stderr interleaved as received.</summary>
    public IReadOnlyCollection<string> Lines => _lines;

    private NodeProcess(NodeOptions options, string hostDll, string logDirectory)
    {
        Options = options;
        Directory = System.IO.Directory.CreateTempSubdirectory($"scarcity-{options.Name}-").FullName;
        var config = Path.Combine(Directory, $"{options.Name}.json");
        File.WriteAllText(config, options.ToJson());
        System.IO.Directory.CreateDirectory(logDirectory);
        LogFile = Path.Combine(logDirectory, $"{options.Name}.log");
        _log = new StreamWriter(LogFile, append: false) { AutoFlush = true };

        var psi = new ProcessStartInfo(options.Namespace is null ? "dotnet" : "ip")
        {
            WorkingDirectory = Directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (options.Namespace is not null)
            foreach (var arg in new[] { "netns", "exec", options.Namespace, "dotnet" }) psi.ArgumentList.Add(arg); // ip execs dotnet: same pid
        psi.ArgumentList.Add(hostDll);
        psi.ArgumentList.Add("--config");
        psi.ArgumentList.Add(config);
        foreach (var arg in Options.ExtraArgs ?? []) psi.ArgumentList.Add(arg);
        // Our own settings only: nothing from the environment of the test run (e.g. a Scarcity__ override) leaks in.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("Scarcity__", StringComparison.OrdinalIgnoreCase)).ToList())
            psi.Environment.Remove(key);
        psi.Environment["DOTNET_TieredPGO"] = "0"; // less JIT work at start-up on a busy 2-core machine
        _process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.Start();
        _process.StandardInput.Close();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Starts a governor process.</summary>
    /// <param name="options">Its configuration.</param>
    /// <param name="logDirectory">Where its output is copied; default <c>TestResults/cluster-logs</c> under the repository.</param>
    public static NodeProcess Start(NodeOptions options, string? logDirectory = null) =>
        new(options, RepoPaths.HostDll(), logDirectory ?? Path.Combine(RepoPaths.Root, "TestResults", "cluster-logs"));

    private void Append(string? line)
    {
        if (line is null) return;
        _lines.Enqueue(line);
        lock (_logLock) _log.WriteLine(line);
    }

    /// <summary>Its output so far as one text.</summary>
    public string Output => string.Join(Environment.NewLine, _lines);

    /// <summary>The last <paramref name="count"/> lines, for failure messages.</summary>
    public string Tail(int count = 40) => $"--- last lines of {Options.Name} ({LogFile}) ---{Environment.NewLine}" +
                                          string.Join(Environment.NewLine, _lines.TakeLast(count));

    /// <summary>Waits until a line matches <paramref name="pattern"/>; fails, with the output's tail, on timeout or exit.</summary>
    public async Task<string> WaitForLineAsync(string pattern, TimeSpan timeout)
    {
        var regex = new Regex(pattern);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var hit = _lines.FirstOrDefault(regex.IsMatch);
            if (hit is not null) return hit;
            if (_process.HasExited)
                throw new InvalidOperationException($"{Options.Name} exited ({_process.ExitCode}) before printing /{pattern}/{Environment.NewLine}{Tail()}");
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{Options.Name}: no line matched /{pattern}/ within {timeout.TotalSeconds:0} s{Environment.NewLine}{Tail()}");
            await Task.Delay(200);
        }
    }

    /// <summary>kill -9 of the process and its children: no leaving, no shutdown hooks.</summary>
    public void Kill()
    {
        if (_process.HasExited) return;
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    /// <summary>SIGTERM (coordinated shutdown: the node leaves the cluster); kill -9 when it has not exited in <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan? grace = null)
    {
        if (_process.HasExited) return;
        SysKill(_process.Id, 15);
        using var cts = new CancellationTokenSource(grace ?? TimeSpan.FromSeconds(20));
        try { await _process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { Kill(); }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try { await StopAsync(TimeSpan.FromSeconds(10)); }
        catch (InvalidOperationException) { /* never started or already gone */ }
        _process.Dispose();
        lock (_logLock) _log.Dispose();
        try { System.IO.Directory.Delete(Directory, recursive: true); }
        catch (IOException) { /* a file still open; it is in the temp folder anyway */ }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SysKill(int pid, int signal);
}
