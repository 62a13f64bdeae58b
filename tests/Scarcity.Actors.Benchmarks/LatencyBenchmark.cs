using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Hosting;
using Akka.Persistence.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Hosting;
using Scarcity.Actors.Policies;

namespace Scarcity.Actors.Benchmarks;

/// <summary>
/// End-to-end latency on a real in-process governor node (Akka.Hosting, one-node cluster on a free port, SQLite journal
/// in a temp file, role governor): a <see cref="Sample"/> told to the profiler registry until the subsystem actor
/// receives its <see cref="Throttle"/>; the path is profiler -&gt; policy -&gt; actuator (persist to SQLite) -&gt;
/// subsystem. Samples alternate 0.95 / 0.30 on a raw <c>vram_util &gt; 0.85</c> rule, 250 ms of virtual time apart, one
/// at a time, so every sample yields exactly one Throttle (escalate to 0.5, then recover to 1). Target: p99 &lt;= 1 ms.
/// Usage: <c>--latency [--samples N] [--warmup N] [--journal sqlite|sqlite-wal|memory] [--persist-before-send] [--akka HOCON]</c> (memory: the same pipeline on the
/// in-memory journal, to isolate what the SQLite write costs; sqlite-wal: the database file switched to WAL first;
/// --persist-before-send: <c>Scarcity:Actuator:PersistBeforeSend</c>; --akka: HOCON over the node's, e.g. the persistence
/// plugins back on the thread pool to compare). The run also prints the runtime's counters over the measured samples and
/// how many of the samples over 1 ms a GC pause explains (<see cref="TailAttribution"/>).
/// </summary>
public static class LatencyBenchmark
{
    private const string HostName = "bench-host";
    private const string Subsystem = "engine";
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(string[] args)
    {
        var samples = IntArg(args, "--samples", 2000);
        var warmup = IntArg(args, "--warmup", 200);
        var journal = StringArg(args, "--journal", "sqlite");
        var extraHocon = StringArg(args, "--akka", "");
        // --steady: after --warmup samples, go on warming up until the JIT has compiled nothing for 2 s (at most
        // --steady-max-seconds), so that what is measured is the node's steady state, not tiered compilation at work.
        var steady = args.Contains("--steady");
        var steadyMax = TimeSpan.FromSeconds(IntArg(args, "--steady-max-seconds", 180));
        if (journal is not ("sqlite" or "sqlite-wal" or "memory"))
            throw new ArgumentException($"--journal must be sqlite, sqlite-wal or memory, was '{journal}'");
        if (samples <= warmup) throw new ArgumentException($"--samples ({samples}) must exceed --warmup ({warmup})");

        var dbPath = Path.Combine(Path.GetTempPath(), $"scarcity-latency-{Guid.NewGuid():N}.db");
        var config = new DRGConfig
        {
            Host = HostName,
            Persistence = { Provider = "Sqlite", ConnectionString = $"Data Source={dbPath}" },
            Cluster = { Port = 0, Roles = ["governor"] },
        };
        UseOneThrottlePerSample(config);
        config.Actuator.PersistBeforeSend = args.Contains("--persist-before-send");

        Console.WriteLine($"Machine: {Environment.ProcessorCount} logical CPUs, {RuntimeInformation.OSDescription} {RuntimeInformation.OSArchitecture}, " +
                          $"{RuntimeInformation.FrameworkDescription}, ServerGC={System.Runtime.GCSettings.IsServerGC}");
        if (journal == "sqlite-wal")
        {
            // WAL is a property of the database file: set it before the journal opens it (one fsync per commit instead of
            // the rollback journal's create/write/fsync/delete).
            using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={dbPath}");
            connection.Open();
            using var pragma = connection.CreateCommand();
            pragma.CommandText = "PRAGMA journal_mode=WAL;";
            pragma.ExecuteNonQuery();
        }
        Console.WriteLine(journal switch
        {
            "sqlite" => $"Journal: SQLite {dbPath} (as configured: rollback journal)",
            "sqlite-wal" => $"Journal: SQLite {dbPath} in WAL mode (set on the file before start)",
            _ => "Journal: in-memory (to isolate the cost of the SQLite write)",
        } + (config.Actuator.PersistBeforeSend ? ", decision persisted before the Throttle leaves (PersistBeforeSend)" : ""));

        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["Logging:LogLevel:Default"] = "Warning";
        builder.Services.AddAkka(GovernorHostingExtensions.SystemName, (akka, _) =>
        {
            akka.AddHocon("""
                akka.loglevel = WARNING
                akka.cluster.split-brain-resolver.stable-after = 3s
                """, HoconAddMode.Prepend);
            if (journal != "memory") akka.WithScarcityNode(config);
            else
                akka.WithScarcitySerialization().WithScarcityCluster(config)
                    .WithInMemoryJournal().WithInMemorySnapshotStore()
                    .WithScarcityGovernor(config);
            // Last, so that it overrides what the node's builders set (experiments: dispatchers, plugin settings).
            if (extraHocon.Length > 0) akka.AddHocon(extraHocon, HoconAddMode.Prepend);
        });
        using var host = builder.Build();
        var started = Stopwatch.StartNew();
        await host.StartAsync();
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            var registry = host.Services.GetRequiredService<ActorRegistry>();
            var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Akka.Cluster.Cluster.Get(system).RegisterOnMemberUp(() => up.TrySetResult());
            await up.Task.WaitAsync(TimeSpan.FromSeconds(30));
            var policy = await registry.GetAsync<GovernorActors.Registration>();
            var profilers = await registry.GetAsync<GovernorActors.Profilers>();
            Console.WriteLine($"Node up in {started.Elapsed.TotalSeconds:0.0} s; journal dispatcher " +
                              $"{system.Settings.Config.GetString("akka.persistence.journal.sql.plugin-dispatcher", "-")}, " +
                              $"materializer {system.Settings.Config.GetString("akka.persistence.journal.sql.materializer-dispatcher", "-")}");

            var received = Channel.CreateUnbounded<(long At, Throttle Throttle)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
            var registered = new TaskCompletionSource<SubsystemRegistered>(TaskCreationOptions.RunContinuationsAsynchronously);
            var engine = system.ActorOf(Props.Create(() => new SubsystemActor(received.Writer, registered)), "bench-engine");
            policy.Tell(new RegisterSubsystem(Subsystem, HostName, 5, [ActionNames.ReduceBatch], engine), engine);
            await registered.Task.WaitAsync(Wait);

            var latencies = new double[samples - warmup];
            var sentAt = new DateTime[samples - warmup];
            using var tail = new TailAttribution();
            var wrong = 0;
            RuntimeCounters? before = null;
            var warming = Stopwatch.StartNew();
            var jitMethods = System.Runtime.JitInfo.GetCompiledMethodCount();
            var jitQuiet = Stopwatch.StartNew();
            var measuredFrom = -1;
            for (var i = 0; measuredFrom < 0 || i - measuredFrom < latencies.Length; i++)
            {
                if (measuredFrom < 0 && i >= warmup)
                {
                    if (System.Runtime.JitInfo.GetCompiledMethodCount() is var compiled && compiled != jitMethods)
                    {
                        jitMethods = compiled;
                        jitQuiet.Restart();
                    }
                    var quiet = jitQuiet.Elapsed >= TimeSpan.FromSeconds(2);
                    if (!steady || quiet || warming.Elapsed >= steadyMax)
                    {
                        measuredFrom = i;
                        before = RuntimeCounters.Read();
                        if (steady)
                            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Warm-up: {i} samples in {warming.Elapsed.TotalSeconds:0.0} s, ") +
                                (quiet ? "until the JIT had compiled nothing for 2 s" : "ended by --steady-max-seconds with the JIT still compiling"));
                    }
                }
                var slot = measuredFrom < 0 ? -1 : i - measuredFrom;
                var hot = i % 2 == 0;
                var sample = new Sample(HostName, T0.AddMilliseconds(250.0 * i),
                    [new MetricValue(MetricNames.VramUtil, hot ? 0.95 : 0.30)], []);
                if (slot >= 0) sentAt[slot] = DateTime.UtcNow;
                var sent = Stopwatch.GetTimestamp();
                profilers.Tell(sample);
                var (at, throttle) = await received.Reader.ReadAsync().AsTask().WaitAsync(Wait);
                if (throttle.Level != (hot ? 0.5 : 1.0) || throttle.Sequence != i + 1) wrong++;
                if (slot >= 0) latencies[slot] = Stopwatch.GetElapsedTime(sent, at).TotalMilliseconds;
            }
            var during = RuntimeCounters.Read() - before!;
            await Task.Delay(100);
            if (received.Reader.TryRead(out var extra))
                Console.WriteLine($"WARNING: an extra Throttle arrived after the run: seq {extra.Throttle.Sequence}");

            var explained = tail.Explain(sentAt, latencies, measuredFrom, 1.0, config.Profiler.SnapshotEverySamples, config.Actuator.SnapshotEvery);
            Array.Sort(latencies);
            Console.WriteLine();
            Console.WriteLine($"Sample -> Throttle received ({journal} journal), {latencies.Length} measured after {measuredFrom} warm-up samples");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"count={latencies.Length}  p50={Pct(latencies, 50):0.000} ms  p90={Pct(latencies, 90):0.000} ms  " +
                $"p99={Pct(latencies, 99):0.000} ms  max={latencies[^1]:0.000} ms  mean={latencies.Average():0.000} ms"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"p99.9={Pct(latencies, 99.9):0.000} ms  above 1 ms: {latencies.Count(l => l > 1)}"));
            Console.WriteLine($"During the measured samples: {during}");
            Console.WriteLine(explained);
            Console.WriteLine($"Runtime: {RuntimeCounters.Settings()}");
            if (wrong > 0) Console.WriteLine($"WARNING: {wrong} Throttles had an unexpected level or sequence");
            // Issue 2 asked for 2 ms; issue 15 for 1 ms on the default SQLite journal.
            var pass = Pct(latencies, 99) <= 1.0;
            Console.WriteLine(pass ? "p99 <= 1 ms: PASS" : "p99 <= 1 ms: MISS");
            return wrong == 0 ? 0 : 1;
        }
        finally
        {
            await host.StopAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var f in new[] { dbPath, dbPath + "-wal", dbPath + "-shm" })
                if (File.Exists(f)) File.Delete(f);
        }
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    private static double Pct(double[] sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static string StringArg(string[] args, string name, string fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }

    private static int IntArg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    /// <summary>A subsystem that records when each Throttle arrives and acknowledges it.</summary>
    /// <summary>
    /// The rule set of the latency runs: <c>vram_util &gt; 0.85</c> on the raw value with no cooldown, recovery delay or pacing, so
    /// samples alternating 0.95 / 0.30 each yield exactly one Throttle (escalate, then recover).
    /// </summary>
    internal static void UseOneThrottlePerSample(DRGConfig config)
    {
        config.Policy.Policies["*"] =
        [
            new PolicyRule(MetricNames.VramUtil, 0.85, ActionNames.ReduceBatch, 0.5)
            {
                Signal = SignalKind.Raw, Cooldown = TimeSpan.FromMilliseconds(1),
            },
        ];
        config.Policy.Cooldown = TimeSpan.FromMilliseconds(1); // recovery steps are spaced by the policy's cooldown
        config.Policy.RecoveryDelay = TimeSpan.Zero;
        config.Policy.RecoveryStep = 0.5;
        config.Policy.RecoveryInterval = TimeSpan.FromMilliseconds(1);
        config.Policy.MinLevel = 0.1;
        // The rule alone decides: no learned model (it sets levels from VRAM against batch and context), no latency
        // admission, no effect check; what is timed is the pipeline, not the controller.
        config.Policy.LearnBatchResponse = false;
        config.Policy.LatencyAdmission = false;
        config.Policy.IneffectiveAfterCuts = 0;
    }

    private sealed class SubsystemActor : ReceiveActor
    {
        public SubsystemActor(ChannelWriter<(long, Throttle)> received, TaskCompletionSource<SubsystemRegistered> registered)
        {
            Receive<Throttle>(t =>
            {
                var at = Stopwatch.GetTimestamp();
                Sender.Tell(new ThrottleAck(t.Subsystem, t.Sequence, true, "applied"));
                received.TryWrite((at, t));
            });
            Receive<SubsystemRegistered>(r => registered.TrySetResult(r));
            Receive<RegistrationRejected>(r => registered.TrySetException(new InvalidOperationException(r.Reason)));
        }
    }
}
