using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Scarcity.Actors.Client;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Hosting;
using Scarcity.Actors.Policies;

namespace Scarcity.Actors.Benchmarks;

/// <summary>
/// Subsystems outside the governor's process, on loopback. <c>--remote-latency</c>: a governor node (SQLite, Throttle sent
/// before the journal write, the default) in this process and the sample engine as a child process; a Sample told to the
/// profiler registry until the child's handler applies the Throttle (its Stopwatch timestamp; on Linux both processes read
/// the same CLOCK_MONOTONIC). Target p99 &lt;= 10 ms. <c>--report-throughput</c>: N <see cref="GovernedSubsystem"/>s (each
/// its own actor system and remoting connection) report app metrics at an offered rate; the governor side counts every
/// report its profilers publish on <c>drg.telemetry</c>. Target: 50,000 values/s from 100 subsystems.
/// </summary>
public static partial class RemoteBenchmarks
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    public static async Task<int> RemoteLatencyAsync(string[] args)
    {
        var samples = IntArg(args, "--samples", 1000);
        var warmup = IntArg(args, "--warmup", 100);
        PrintMachine();
        var (host, system, port, db) = await StartGovernor();
        using var _ = host;
        var registry = host.Services.GetRequiredService<ActorRegistry>();
        var profilers = await registry.GetAsync<GovernorActors.Profilers>();

        var dll = typeof(RemoteBenchmarks).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "SampleEngineDll").Value!;
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { Path.GetFullPath(dll), "--contact", $"akka.tcp://scarcity@127.0.0.1:{port}", "--name", "engine", "--host", "bench-host", "--scenario", "idle" })
            info.ArgumentList.Add(a);
        using var child = Process.Start(info)!;
        try
        {
            return await SampleToAppliedAsync(child, profilers, samples, warmup,
                "Sample engine (pid {0}) registered from its own process",
                "Sample -> Throttle applied in another process (SQLite journal, send before persist)");
        }
        finally
        {
            if (!child.HasExited) child.Kill(entireProcessTree: true);
            await host.StopAsync();
            DeleteDb(db);
        }
    }

    /// <summary>
    /// Sends <paramref name="samples"/> alternately hot and cool samples of bench-host to <paramref name="profilers"/> and
    /// times each until <paramref name="child"/> (a sample engine printing "registered" and "applied SEQ TIMESTAMP" lines)
    /// applied the Throttle it caused; prints the percentiles after the first <paramref name="warmup"/>. 0 when every
    /// Throttle arrived in sequence.
    /// </summary>
    private static async Task<int> SampleToAppliedAsync(Process child, IActorRef profilers, int samples, int warmup, string registeredFormat, string title)
    {
        var applied = Channel.CreateUnbounded<(long Seq, long Ts)>();
        var registered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        child.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            if (e.Data.StartsWith("registered", StringComparison.Ordinal)) registered.TrySetResult();
            var m = AppliedLine().Match(e.Data);
            if (m.Success) applied.Writer.TryWrite((long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)));
        };
        child.BeginOutputReadLine();
        await registered.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Console.WriteLine(registeredFormat, child.Id);
        var latencies = new double[samples - warmup];
        var wrong = 0;
        for (var i = 0; i < samples; i++)
        {
            var hot = i % 2 == 0;
            var sample = new Sample("bench-host", T0.AddMilliseconds(250.0 * i), [new MetricValue(MetricNames.VramUtil, hot ? 0.95 : 0.30)], []);
            var sent = Stopwatch.GetTimestamp();
            profilers.Tell(sample);
            var (seq, ts) = await applied.Reader.ReadAsync().AsTask().WaitAsync(Wait);
            if (seq != i + 1) wrong++;
            if (i >= warmup) latencies[i - warmup] = Stopwatch.GetElapsedTime(sent, ts).TotalMilliseconds;
        }
        Array.Sort(latencies);
        Console.WriteLine();
        Console.WriteLine($"{title}, {samples} samples, first {warmup} discarded");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"count={latencies.Length}  p50={Pct(latencies, 50):0.000} ms  p90={Pct(latencies, 90):0.000} ms  " +
            $"p99={Pct(latencies, 99):0.000} ms  max={latencies[^1]:0.000} ms  mean={latencies.Average():0.000} ms"));
        if (wrong > 0) Console.WriteLine($"WARNING: {wrong} Throttles arrived out of the expected sequence");
        Console.WriteLine(Pct(latencies, 99) <= 10.0 ? "p99 <= 10 ms: PASS" : "p99 <= 10 ms: MISS");
        return wrong == 0 ? 0 : 1;
    }

    public static async Task<int> ReportThroughputAsync(string[] args)
    {
        var subsystems = IntArg(args, "--subsystems", 100);
        var hosts = IntArg(args, "--hosts", 100);
        var valuesPerReport = IntArg(args, "--values", 10);
        var rate = IntArg(args, "--rate", 60_000);
        var seconds = IntArg(args, "--seconds", 10);
        PrintMachine();
        var (host, system, port, db) = await StartGovernor();
        using var _ = host;
        var clients = new List<GovernedSubsystem>();
        try
        {
            var counter = system.ActorOf(Props.Create(() => new TelemetryCounter()), "telemetry-counter");
            DistributedPubSub.Get(system).Mediator.Tell(new Subscribe(Topics.Telemetry, counter), counter);
            DistributedPubSub.Get(system).Mediator.Tell(new Subscribe(Topics.NodeStale, counter), counter);

            var started = Stopwatch.StartNew();
            for (var i = 0; i < subsystems; i++)
            {
                var options = new GovernedSubsystemOptions
                {
                    Name = $"engine-{i:000}", Host = $"bench-host-{i % hosts:000}", Contacts = [$"akka.tcp://scarcity@127.0.0.1:{port}"],
                    ExtraHocon = "akka.loglevel = WARNING",
                }.On(ActionNames.Throttle, (_, _) => { });
                clients.Add(GovernedSubsystem.Start(options));
            }
            await Task.WhenAll(clients.Select(c => c.WaitUntilRegisteredAsync(TimeSpan.FromSeconds(120))));
            Console.WriteLine($"{subsystems} subsystems (each its own actor system) on {hosts} hosts registered in {started.Elapsed.TotalSeconds:0.0} s");

            var values = Enumerable.Range(0, valuesPerReport).ToDictionary(v => v == 0 ? MetricNames.LatencyMs : $"app_metric_{v}", v => 1.0 + v);
            var reportsPerSecond = (double)rate / valuesPerReport;
            var baseline = TelemetryCounter.Count;
            long sentReports = 0;
            var sendStart = Stopwatch.GetTimestamp();
            var next = 0;
            while (Stopwatch.GetElapsedTime(sendStart).TotalSeconds < seconds)
            {
                var due = (long)(Stopwatch.GetElapsedTime(sendStart).TotalSeconds * reportsPerSecond);
                for (; sentReports < due; sentReports++)
                {
                    clients[next].Report(values);
                    next = (next + 1) % clients.Count;
                }
                await Task.Delay(5);
            }
            var sendElapsed = Stopwatch.GetElapsedTime(sendStart).TotalSeconds;
            var drainDeadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 30;
            while (TelemetryCounter.Count - baseline < sentReports * valuesPerReport && Stopwatch.GetTimestamp() < drainDeadline) await Task.Delay(20);
            var done = Stopwatch.GetElapsedTime(sendStart).TotalSeconds;
            var valuesProfiled = TelemetryCounter.Count - baseline;
            var received = valuesProfiled / valuesPerReport;
            Console.WriteLine();
            Console.WriteLine($"ReportMetrics from {subsystems} subsystems, {valuesPerReport} values each, offered {rate:N0} values/s for {seconds} s");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"sent={sentReports * valuesPerReport:N0} values in {sendElapsed:0.00} s  profiled={valuesProfiled:N0} values by {done:0.00} s  " +
                $"throughput={valuesProfiled / done:N0} values/s  lost={(sentReports - received) * valuesPerReport:N0}"));
            var pass = valuesProfiled / done >= 50_000;
            Console.WriteLine(pass ? ">= 50,000 values/s: PASS" : ">= 50,000 values/s: MISS");
            return 0;
        }
        finally
        {
            await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
            await host.StopAsync();
            DeleteDb(db);
        }
    }

    private static async Task<(IHost Host, ActorSystem System, int Port, string Db)> StartGovernor()
    {
        var port = FreePort();
        var db = Path.Combine(Path.GetTempPath(), $"scarcity-remote-bench-{Guid.NewGuid():N}.db");
        var config = new DRGConfig
        {
            Host = "bench-host",
            Persistence = { Provider = "Sqlite", ConnectionString = $"Data Source={db}" },
            Cluster = { Port = port, Roles = ["governor"] },
        };
        LatencyBenchmark.UseOneThrottlePerSample(config);
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["Logging:LogLevel:Default"] = "Warning";
        builder.Services.AddAkka(GovernorHostingExtensions.SystemName, (akka, _) =>
        {
            akka.AddHocon("""
                akka.loglevel = WARNING
                akka.cluster.split-brain-resolver.stable-after = 3s
                """, HoconAddMode.Prepend);
            akka.WithScarcityNode(config);
        });
        var host = builder.Build();
        await host.StartAsync();
        var system = host.Services.GetRequiredService<ActorSystem>();
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Akka.Cluster.Cluster.Get(system).RegisterOnMemberUp(() => up.TrySetResult());
        await up.Task.WaitAsync(Wait);
        Console.WriteLine($"Governor up on 127.0.0.1:{port}, SQLite {db}");
        return (host, system, port, db);
    }

    private static void PrintMachine() =>
        Console.WriteLine($"Machine: {Environment.ProcessorCount} logical CPUs, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}");

    private static void DeleteDb(string db)
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var f in new[] { db, db + "-wal", db + "-shm" })
            if (File.Exists(f)) File.Delete(f);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static double Pct(double[] sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static int IntArg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    [GeneratedRegex(@"^applied seq=(\d+) .* ts=(\d+) ")]
    private static partial Regex AppliedLine();

    /// <summary>Counts the values the profilers profiled: the newest <see cref="TelemetryPublished.ValuesProfiled"/> per host, summed.</summary>
    private sealed class TelemetryCounter : ReceiveActor
    {
        private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> PerHost = new();
        public static long Count => PerHost.Values.Sum();

        public TelemetryCounter()
        {
            Receive<TelemetryPublished>(t => PerHost.AddOrUpdate(t.Profile.Host, t.ValuesProfiled, (_, old) => Math.Max(old, t.ValuesProfiled)));
            Receive<NodeStale>(_ => { });
            Receive<SubscribeAck>(_ => { });
        }
    }
}
