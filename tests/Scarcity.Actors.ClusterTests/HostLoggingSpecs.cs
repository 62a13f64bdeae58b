using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Scarcity.Actors.ClusterTests.Harness;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.ClusterTests;

/// <summary>
/// The Host process as an operator runs it: one node on SQLite with the demo engine, <c>--log-format json</c>, stopped
/// with SIGTERM (the generic host's Ctrl+C path). No PostgreSQL needed.
/// </summary>
public sealed class HostLoggingSpecs(ITestOutputHelper output)
{
    private static readonly TimeSpan FirstDecision = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Json_logs_carry_decisions_as_structured_fields_and_a_clean_stop_prints_no_dead_letters_or_akka_chatter()
    {
        // Arrange
        var dir = Directory.CreateTempSubdirectory("scarcity-logging-").FullName;
        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     RepoPaths.HostDll(), "--demo", "--log-format", "json", "--Scarcity:Host=spec-host", "--Scarcity:Gpu:Enabled=false",
                     $"--Scarcity:Cluster:Port={RepoPaths.FreePort()}", $"--Scarcity:Persistence:ConnectionString=Data Source={Path.Combine(dir, "demo.db")}",
                 })
            psi.ArgumentList.Add(arg);
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("Scarcity__", StringComparison.OrdinalIgnoreCase)).ToList())
            psi.Environment.Remove(key);
        var lines = new ConcurrentQueue<string>();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lines.Enqueue(e.Data); };

        try
        {
            // Act: run until the first decision, then stop the node as Ctrl+C or systemd would.
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var deadline = DateTime.UtcNow + FirstDecision;
            JsonElement? decision = null;
            while (decision is null && DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(250);
                decision = JsonLines(lines).Cast<JsonElement?>().FirstOrDefault(j => j!.Value.GetProperty("EventId").GetInt32() == 1 &&
                    j.Value.GetProperty("Category").GetString() == "Scarcity.Actors.Actuation.ActuatorActor");
            }
            Assert.True(decision is not null, $"no decision logged within {FirstDecision.TotalSeconds} s{Environment.NewLine}{string.Join(Environment.NewLine, lines.TakeLast(30))}");
            var linesBeforeStop = lines.Count;
            Assert.Equal(0, kill(process.Id, 15));
            using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30))) await process.WaitForExitAsync(cts.Token);

            // Assert
            var state = decision!.Value.GetProperty("State");
            Assert.Equal("spec-host", state.GetProperty("Host").GetString());
            Assert.Equal("demo_engine", state.GetProperty("Subsystem").GetString());
            Assert.False(string.IsNullOrEmpty(state.GetProperty("Action").GetString()));
            Assert.True(state.GetProperty("Sequence").GetInt64() >= 1);
            Assert.Equal(0, process.ExitCode);

            var json = JsonLines(lines).ToList();
            Assert.Contains(json, j => j.GetProperty("Category").GetString() == "Scarcity.Actors.Hosting.GovernorHostingExtensions" &&
                                       j.GetProperty("Message").GetString()!.Contains("is Up in the cluster", StringComparison.Ordinal));
            // Akka's own Info lines (remoting, sharding, persistence) stay below the default level; membership is shown.
            Assert.Contains(json, j => j.GetProperty("Category").GetString() == "Akka.Cluster" && j.GetProperty("LogLevel").GetString() == "Information");
            Assert.DoesNotContain(json, j => j.GetProperty("Category").GetString() is { } c && c.StartsWith("Akka", StringComparison.Ordinal) &&
                                            !(c == "Akka.Cluster" || c.StartsWith("Akka.Cluster.SBR", StringComparison.Ordinal)) &&
                                            j.GetProperty("LogLevel").GetString() is "Information" or "Debug");
            var shutdown = lines.Skip(linesBeforeStop).ToList();
            Assert.DoesNotContain(shutdown, l => l.Contains("dead letter", StringComparison.OrdinalIgnoreCase) || l.Contains("DeadLetter", StringComparison.Ordinal));
            Assert.DoesNotContain(lines, l => l.StartsWith("[INFO]", StringComparison.Ordinal) || l.Contains("Remoting shut down", StringComparison.Ordinal));
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            foreach (var line in lines) output.WriteLine(line);
            try { Directory.Delete(dir, recursive: true); }
            catch (IOException) { /* a file still open; it is in the temp folder anyway */ }
        }
    }

    private static IEnumerable<JsonElement> JsonLines(IEnumerable<string> lines)
    {
        foreach (var line in lines.ToList())
        {
            if (!line.StartsWith('{')) continue; // the status lines and the demo engine's own lines are plain text
            JsonElement element;
            try { element = JsonDocument.Parse(line).RootElement.Clone(); }
            catch (JsonException) { continue; }
            yield return element;
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
