using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using Scarcity.Actors.ClusterTests.Harness;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.ClusterTests;

/// <summary>
/// Bad start-up input and a taken address, with real Host processes on SQLite (no PostgreSQL needed): one clear line and a
/// non-zero exit code, never a stack trace; a node whose seeds do not answer stays not ready and says so once per interval.
/// </summary>
public sealed class StartupFaultSpecs(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Exit = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("scarcity-startup-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { /* a process still writing; it is in the temp folder anyway */ }
    }

    private sealed record Run(int ExitCode, IReadOnlyList<string> Lines)
    {
        public override string ToString() => $"exit {ExitCode}{Environment.NewLine}{string.Join(Environment.NewLine, Lines.TakeLast(30))}";
    }

    private static Process StartHost(string workingDirectory, ConcurrentQueue<string> lines, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(RepoPaths.HostDll());
        foreach (var arg in args) psi.ArgumentList.Add(arg);
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("Scarcity__", StringComparison.OrdinalIgnoreCase)).ToList())
            psi.Environment.Remove(key);
        var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lines.Enqueue(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private async Task<Run> RunToExit(params string[] args)
    {
        var lines = new ConcurrentQueue<string>();
        using var process = StartHost(_dir, lines, ["--Scarcity:Gpu:Enabled=false", .. args]);
        using var cts = new CancellationTokenSource(Exit);
        try { await process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"the node did not exit within {Exit.TotalSeconds} s:{Environment.NewLine}{string.Join(Environment.NewLine, lines.TakeLast(30))}");
        }
        process.WaitForExit(); // the output's end
        var run = new Run(process.ExitCode, [.. lines]);
        output.WriteLine(run.ToString());
        return run;
    }

    private static void AssertNoStackTrace(Run run) =>
        Assert.DoesNotContain(run.Lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal) || l.Contains("Unhandled exception", StringComparison.Ordinal));

    private string Sqlite(string name) => $"--Scarcity:Persistence:ConnectionString=Data Source={Path.Combine(_dir, name)}";

    // LISTEN sockets on the port, from the kernel's own tables (IPv4 and IPv6; state 0A is LISTEN).
    private static int Listeners(int port)
    {
        var hex = ":" + port.ToString("X4", CultureInfo.InvariantCulture) + " ";
        return new[] { "/proc/net/tcp", "/proc/net/tcp6" }.Where(File.Exists).SelectMany(File.ReadLines)
            .Count(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is { Length: > 3 } f && (f[1] + " ").EndsWith(hex, StringComparison.Ordinal) && f[3] == "0A");
    }

    [Fact]
    public async Task A_second_node_on_a_taken_remoting_port_exits_with_one_line_and_code_3_and_the_first_keeps_the_only_listener()
    {
        var port = RepoPaths.FreePort();
        await using var first = NodeProcess.Start(new NodeOptions("first", "spec-first", port, [], $"Data Source={Path.Combine(_dir, "first.db")}", Provider: "Sqlite"));
        await first.WaitForLineAsync("is Up in the cluster", TimeSpan.FromSeconds(90));

        var second = await RunToExit($"--Scarcity:Cluster:Port={port}", "--Scarcity:Metrics:Port=0", Sqlite("second.db"));

        Assert.True(second.ExitCode == 3, second.ToString());
        Assert.Contains(second.Lines, l => l == $"Scarcity:Cluster:Port: 127.0.0.1:{port} is already in use (another governor node or program listens there); stop it or choose another port");
        AssertNoStackTrace(second);
        Assert.False(first.HasExited, first.Tail());
        Assert.Equal(1, Listeners(port));
    }

    [Fact]
    public async Task A_taken_metrics_port_is_named_and_the_node_exits_with_code_3()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        var run = await RunToExit("--Scarcity:Cluster:Port=0", $"--Scarcity:Metrics:Port={port}", Sqlite("metrics.db"));

        Assert.True(run.ExitCode == 3, run.ToString());
        Assert.Contains(run.Lines, l => l.StartsWith($"Scarcity:Metrics:Port: 127.0.0.1:{port} is already in use", StringComparison.Ordinal));
        AssertNoStackTrace(run);
    }

    [Fact]
    public async Task A_malformed_JSON_configuration_is_one_line_with_its_path_line_and_position_and_exit_code_2()
    {
        var file = Path.Combine(_dir, "node.json");
        await File.WriteAllTextAsync(file, "{\n  \"Scarcity\": {\n    \"Host\": \"x\",,\n  }\n}\n");

        var run = await RunToExit("--config", file);

        Assert.True(run.ExitCode == 2, run.ToString());
        var line = Assert.Single(run.Lines);
        Assert.StartsWith($"configuration file '{file}': malformed JSON at line 3, position 17:", line);
    }

    [Fact]
    public async Task An_unwritable_data_directory_is_named_and_the_node_exits_with_code_3_before_it_starts()
    {
        // Running as root, a directory's mode does not stop a write; a path through a regular file stops anyone.
        var file = Path.Combine(_dir, "not-a-directory");
        await File.WriteAllTextAsync(file, "");
        var directory = Path.Combine(file, "data");

        var run = await RunToExit("--Scarcity:Cluster:Port=0", "--Scarcity:Metrics:Port=0",
            $"--Scarcity:Persistence:ConnectionString=Data Source={Path.Combine(directory, "scarcity.db")}");

        Assert.True(run.ExitCode == 3, run.ToString());
        var line = Assert.Single(run.Lines);
        Assert.StartsWith($"Scarcity:Persistence:ConnectionString: the data directory '{directory}' is not writable", line);
    }

    [Fact]
    public async Task Unreachable_seeds_keep_the_node_not_ready_naming_them_with_one_warning_per_interval_and_no_misleading_text()
    {
        var seeds = new[] { RepoPaths.FreePort(), RepoPaths.FreePort() }.Select(p => NodeOptions.Address(p)).ToArray();
        var metricsPort = RepoPaths.FreePort();
        var lines = new ConcurrentQueue<string>();
        using var process = StartHost(_dir, lines, "--Scarcity:Gpu:Enabled=false", "--Scarcity:Cluster:Port=0", $"--Scarcity:Metrics:Port={metricsPort}",
            $"--Scarcity:Cluster:SeedNodes:0={seeds[0]}", $"--Scarcity:Cluster:SeedNodes:1={seeds[1]}", Sqlite("seeds.db"));
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            string? ready = null;
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            // Long enough for Akka's join attempts (every 5 s) to repeat several times.
            while (DateTime.UtcNow < deadline && !lines.Any(l => l.Contains("Not a member of the cluster yet", StringComparison.Ordinal)))
                await Task.Delay(500);
            await Task.Delay(TimeSpan.FromSeconds(20));
            try
            {
                var response = await http.GetAsync($"http://127.0.0.1:{metricsPort}/readyz");
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                ready = await response.Content.ReadAsStringAsync();
            }
            catch (HttpRequestException e)
            {
                Assert.Fail($"/readyz did not answer: {e.Message}{Environment.NewLine}{string.Join(Environment.NewLine, lines.TakeLast(30))}");
            }
            output.WriteLine(ready);
            output.WriteLine(string.Join(Environment.NewLine, lines));

            Assert.False(process.HasExited);
            Assert.Contains($"seed nodes tried: {seeds[0]}, {seeds[1]}", ready);
            var warnings = lines.Where(l => l.Contains("Not a member of the cluster yet", StringComparison.Ordinal)).ToList();
            // ~30 s of failed joins (Akka retries every 5 s): one warning per 30 s interval, not one per attempt.
            Assert.InRange(warnings.Count, 1, 2);
            Assert.Contains($"seed nodes tried: {seeds[0]},{seeds[1]}", warnings[0]);
            Assert.DoesNotContain(lines, l => l.Contains("no seed-nodes configured", StringComparison.Ordinal));
            Assert.DoesNotContain(lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
    }
}
