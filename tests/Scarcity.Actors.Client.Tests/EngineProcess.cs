using Scarcity.Actors.Testing;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text.RegularExpressions;

namespace Scarcity.Actors.Client.Tests;

/// <summary>
/// The sample inference engine (<c>Scarcity.Actors.Samples.InferenceEngine</c>) run as a separate process with
/// <c>dotnet &lt;dll&gt;</c>; its stdout and stderr lines are collected for the specs to wait on and parse.
/// </summary>
public sealed partial class EngineProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly object _gate = new();

    private EngineProcess(Process process) => _process = process;

    /// <summary>The sample's dll, built by the test project's reference to it.</summary>
    public static string DllPath =>
        typeof(EngineProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "SampleEngineDll").Value!;

    /// <summary>Starts the sample with its command-line arguments.</summary>
    public static EngineProcess Start(params string[] args)
    {
        var dll = Path.GetFullPath(DllPath);
        if (!File.Exists(dll)) throw new FileNotFoundException($"The sample engine is not built at {dll}", dll);
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var engine = new EngineProcess(process);
        process.OutputDataReceived += (_, e) => engine.Add(e.Data);
        process.ErrorDataReceived += (_, e) => engine.Add(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return engine;
    }

    private void Add(string? line)
    {
        if (line is null) return;
        lock (_gate) _lines.Add(line);
    }

    /// <summary>Every line so far, stdout and stderr interleaved.</summary>
    public IReadOnlyList<string> Lines
    {
        get { lock (_gate) return _lines.ToList(); }
    }

    /// <summary>Everything printed so far, for assertion messages.</summary>
    public string Output => string.Join(Environment.NewLine, Lines);

    /// <summary>The sequences of the Throttles applied, in the order they were applied.</summary>
    public IReadOnlyList<long> AppliedSequences =>
        Lines.Select(l => AppliedLine().Match(l)).Where(m => m.Success).Select(m => long.Parse(m.Groups[1].Value)).ToList();

    /// <summary>Waits for a line matching <paramref name="predicate"/> and returns it.</summary>
    public async Task<string> WaitForLine(Func<string, bool> predicate, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var hit = Lines.FirstOrDefault(predicate);
            if (hit is not null) return hit;
            if (_process.HasExited && Lines.FirstOrDefault(predicate) is null)
                throw new InvalidOperationException($"The engine exited with {_process.ExitCode} before the line came:{Environment.NewLine}{Output}");
            await Task.Delay(50);
        }
        throw new TimeoutException($"No such line within {timeout.TotalSeconds} s; the engine printed:{Environment.NewLine}{Output}");
    }

    /// <summary>Waits for the process to end and returns its exit code.</summary>
    public async Task<int> WaitForExit(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>Kills the process at once (no graceful shutdown), as a crash would.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }


    [GeneratedRegex(@"^applied seq=(\d+) ")]
    private static partial Regex AppliedLine();
}
