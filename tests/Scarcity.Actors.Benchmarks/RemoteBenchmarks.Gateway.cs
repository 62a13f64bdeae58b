using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Gateway;

namespace Scarcity.Actors.Benchmarks;

/// <summary>
/// Python subsystems through the gRPC gateway, on loopback (scripts/bench-gateway.sh). <c>--python-gateway-latency</c>: the
/// governor node of <c>--remote-latency</c> plus its gateway in this process, and the Python sample engine
/// (clients/python/examples/engine_model.py, scenario idle) as a child process; a Sample told to the profiler registry
/// until the Python handler applies the Throttle (its <c>time.monotonic_ns()</c>: CLOCK_MONOTONIC, which Stopwatch also
/// reads on Linux). Target p99 &lt;= 10 ms. <c>--python-gateway-reports</c>: N Python subsystems in one child process
/// (clients/python/bench/report_fleet.py) report at a rate for a time; the values the profilers profiled are counted
/// against the values the clients wrote. Target: nothing lost.
/// </summary>
public static partial class RemoteBenchmarks
{
    private static string PythonClientDir =>
        typeof(RemoteBenchmarks).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "PythonClientDir").Value!;

    public static async Task<int> GatewayLatencyAsync(string[] args)
    {
        var samples = IntArg(args, "--samples", 1000);
        var warmup = IntArg(args, "--warmup", 100);
        PrintMachine();
        var (host, system, _, db) = await StartGovernor();
        using var _ = host;
        var gateway = await StartGateway(host.Services, system);
        var profilers = await host.Services.GetRequiredService<ActorRegistry>().GetAsync<GovernorActors.Profilers>();

        using var child = StartPython(Path.Combine(PythonClientDir, "examples", "engine_model.py"),
            "--target", $"127.0.0.1:{gateway.Config.Port}", "--name", "engine", "--host", "bench-host", "--scenario", "idle");
        try
        {
            return await SampleToAppliedAsync(child, profilers, samples, warmup,
                $"Python sample engine (pid {{0}}) registered through the gateway on 127.0.0.1:{gateway.Config.Port}",
                "Sample -> Throttle applied in a Python process through the gRPC gateway (SQLite journal, send before persist)");
        }
        finally
        {
            if (!child.HasExited) child.Kill(entireProcessTree: true);
            await gateway.DisposeAsync();
            await host.StopAsync();
            DeleteDb(db);
        }
    }

    public static async Task<int> GatewayReportsAsync(string[] args)
    {
        var subsystems = IntArg(args, "--subsystems", 100);
        var rateHz = IntArg(args, "--rate-hz", 4);
        var seconds = IntArg(args, "--seconds", 60);
        var values = IntArg(args, "--values", 4);
        PrintMachine();
        var (host, system, _, db) = await StartGovernor();
        using var _ = host;
        var gateway = await StartGateway(host.Services, system);
        var counter = system.ActorOf(Props.Create(() => new TelemetryCounter()), "telemetry-counter");
        DistributedPubSub.Get(system).Mediator.Tell(new Subscribe(Topics.Telemetry, counter), counter);
        DistributedPubSub.Get(system).Mediator.Tell(new Subscribe(Topics.NodeStale, counter), counter);

        using var child = StartPython(Path.Combine(PythonClientDir, "bench", "report_fleet.py"),
            "--target", $"127.0.0.1:{gateway.Config.Port}", "--subsystems", $"{subsystems}", "--hosts", $"{subsystems}",
            "--rate-hz", $"{rateHz}", "--seconds", $"{seconds}", "--values", $"{values}");
        var lines = Channel.CreateUnbounded<string>();
        child.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Writer.TryWrite(e.Data); };
        child.BeginOutputReadLine();
        try
        {
            var registered = await NextLine(lines, "registered ", TimeSpan.FromSeconds(240));
            Console.WriteLine($"{registered} (Python, one process, one Govern stream each)");
            await Task.Delay(TimeSpan.FromSeconds(2)); // the actuators attach the subsystems to their hosts' profilers
            var baseline = TelemetryCounter.Count;
            await child.StandardInput.WriteLineAsync("go");
            await child.StandardInput.FlushAsync();
            var sentLine = await NextLine(lines, "sent ", TimeSpan.FromSeconds(seconds + 120));
            var sentValues = long.Parse(Regex.Match(sentLine, @"values=(\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
            var dropped = long.Parse(Regex.Match(sentLine, @"dropped=(\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
            var drainDeadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 30;
            while (TelemetryCounter.Count - baseline < sentValues && Stopwatch.GetTimestamp() < drainDeadline) await Task.Delay(50);
            var profiled = TelemetryCounter.Count - baseline;
            Console.WriteLine();
            Console.WriteLine($"{subsystems} Python subsystems reporting {values} values at {rateHz} Hz for {seconds} s through the gRPC gateway");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{sentLine}  profiled={profiled:N0} values  lost={sentValues - profiled:N0}  dropped by the clients={dropped}"));
            var pass = profiled == sentValues && dropped == 0 && sentValues > 0;
            Console.WriteLine(pass ? "nothing lost: PASS" : "nothing lost: MISS");
            await child.StandardInput.WriteLineAsync("stop");
            await child.StandardInput.FlushAsync();
            return pass ? 0 : 1;
        }
        finally
        {
            if (!await WaitExit(child, TimeSpan.FromSeconds(20))) child.Kill(entireProcessTree: true);
            await gateway.DisposeAsync();
            await host.StopAsync();
            DeleteDb(db);
        }
    }

    private static Task<GatewayServer> StartGateway(IServiceProvider services, ActorSystem system) =>
        GatewayServer.StartAsync(system, services.GetRequiredService<ActorRegistry>(),
            new GatewayConfig { Port = FreePort() });

    private static Process StartPython(string script, params string[] args)
    {
        var python = File.Exists(Path.Combine(PythonClientDir, ".venv", "bin", "python"))
            ? Path.Combine(PythonClientDir, ".venv", "bin", "python")
            : "/usr/bin/python3";
        var info = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        info.ArgumentList.Add("-u");
        info.ArgumentList.Add(script);
        foreach (var a in args) info.ArgumentList.Add(a);
        return Process.Start(info) ?? throw new InvalidOperationException($"could not start {python} {script}");
    }

    private static async Task<string> NextLine(Channel<string> lines, string prefix, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            var line = await lines.Reader.ReadAsync(cts.Token);
            Console.WriteLine($"  python: {line}");
            if (line.StartsWith(prefix, StringComparison.Ordinal)) return line;
        }
    }

    private static async Task<bool> WaitExit(Process process, TimeSpan timeout)
    {
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }
}
