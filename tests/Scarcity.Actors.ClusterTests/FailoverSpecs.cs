using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Akka.Actor;
using Scarcity.Actors.ClusterTests.Harness;
using Scarcity.Actors.Contracts;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.ClusterTests;

/// <summary>
/// Issue 3's failover: three governor processes on one PostgreSQL; kill -9 of the node that hosts host X's profiler and
/// subsystem Y's actuator. Within 30 s both entities run on a survivor with their state: X's Kalman trend continues, Y's
/// level and sequence continue, and the journal holds every decision once. X's samples and Y itself live in this test
/// process (through ClusterClient), so they outlive the kill.
/// </summary>
public sealed class FailoverSpecs : Akka.TestKit.Xunit2.TestKit, IClassFixture<PostgresFixture>
{
    private const int Pairs = 30; // each pair is co-located with odds of about 1 in 3: 30 make a miss vanishingly rare
    private static readonly TimeSpan Formation = TimeSpan.FromSeconds(90);
    private readonly PostgresFixture _postgres;
    private readonly ITestOutputHelper _output;

    public FailoverSpecs(PostgresFixture postgres, ITestOutputHelper output) : base(GovernorProbe.Hocon, "failover-probe", output)
    {
        _postgres = postgres;
        _output = output;
    }

    [Fact]
    public async Task Kill_9_of_the_node_hosting_a_profiler_and_an_actuator_moves_both_with_their_state_within_30_s()
    {
        var connectionString = _postgres.ConnectionString;
        var ports = new HashSet<int>();
        while (ports.Count < 3) ports.Add(RepoPaths.FreePort());
        var port = ports.ToArray();
        int[] seeds = [port[0], port[1]];
        var clock = Stopwatch.StartNew();
        var nodes = new NodeProcess[3];
        for (var i = 0; i < 3; i++)
            nodes[i] = NodeProcess.Start(new NodeOptions($"node{i + 1}", $"gpu-node-{i + 1}", port[i], seeds, connectionString,
                StableAfterSeconds: 5));
        var probe = new GovernorProbe(Sys);
        using var feeding = new CancellationTokenSource();
        try
        {
            foreach (var p in port)
                await probe.AwaitStatusAsync(p, s => s.Hosts.Count >= 3, Formation, "the three nodes' hosts");
            _output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0} s  cluster formed");

            // Y_i governed on host X_i; every X_i's samples come from here: VRAM rising 0.004/s, CPU at 0.95
            // (the default cpu_util > 0.90 rule throttles Y_i x0.7 every 5 s).
            var throttles = Enumerable.Range(0, Pairs).Select(_ => new ConcurrentQueue<Throttle>()).ToArray();
            for (var i = 0; i < Pairs; i++)
            {
                var registered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var queue = throttles[i];
                var subsystem = Sys.ActorOf(AckingSubsystem<Throttle>.Props(queue, registered, (t, _) => t), $"y{i}");
                probe.Send(port[0], ServicePaths.Policy, new RegisterSubsystem($"ct-y-{i}", $"ct-host-{i}", 1,
                    [ActionNames.Throttle, ActionNames.ReduceBatch, ActionNames.ShedLoad], subsystem), subsystem);
                await registered.Task.WaitAsync(TimeSpan.FromSeconds(60));
            }
            var feedPort = port[0];
            var start = DateTimeOffset.UtcNow;
            var feeder = Task.Run(async () =>
            {
                using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
                while (await timer.WaitForNextTickAsync(feeding.Token))
                {
                    var now = DateTimeOffset.UtcNow;
                    var vram = 0.30 + 0.004 * (now - start).TotalSeconds;
                    for (var i = 0; i < Pairs; i++)
                        probe.Send(Volatile.Read(ref feedPort), ServicePaths.Profilers, new Sample($"ct-host-{i}", now,
                            [new MetricValue(MetricNames.VramUtil, vram), new MetricValue(MetricNames.CpuUtil, 0.95)], []));
                }
            });

            // Two decisions per subsystem, then find a node that hosts both X_i's profiler and Y_i's actuator.
            await AwaitAsync(() => throttles.All(q => q.Select(t => t.Sequence).Distinct().Count() >= 2), TimeSpan.FromSeconds(60), "two Throttles for every Y");
            var sharding = await probe.ShardingAsync(port[0]);
            var (victim, pair) = FindColocated(sharding, port);
            _output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0} s  node{victim + 1} hosts ct-host-{pair}'s profiler and ct-y-{pair}'s actuator");
            var survivor = port[victim == 0 ? 1 : 0];
            Volatile.Write(ref feedPort, survivor);
            await Task.Delay(1000); // let the feed move to the survivor's receptionist

            var host = $"ct-host-{pair}";
            var y = throttles[pair];
            var before = (await probe.AwaitStatusAsync(survivor, s => s.Hosts.ContainsKey(host), TimeSpan.FromSeconds(20), host)).Hosts[host]
                .Metrics[MetricNames.VramUtil];
            var lastBefore = y.MaxBy(t => t.Sequence)!;
            _output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0} s  before: {host} vram trend {before.Trend:0.00000}/s estimate {before.Estimate:0.000}; " +
                              $"ct-y-{pair} seq {lastBefore.Sequence} throttle {lastBefore.Level:0.###}");

            nodes[victim].Kill();
            var killedAt = DateTimeOffset.UtcNow;
            var killClock = Stopwatch.StartNew();
            _output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0} s  node{victim + 1} killed (-9)");

            // Y's actuator continues on a survivor: the next Throttle carries the next sequence and the next level.
            await AwaitAsync(() => y.Any(t => t.Sequence > lastBefore.Sequence && t.IssuedAt > killedAt), TimeSpan.FromSeconds(30), $"ct-y-{pair} governed after the kill");
            var actuatorBack = killClock.Elapsed;
            var next = y.Where(t => t.Sequence > lastBefore.Sequence).MinBy(t => t.Sequence)!;
            Assert.Equal(lastBefore.Sequence + 1, next.Sequence);
            Assert.Equal(Math.Max(0.1, lastBefore.Level * 0.7), next.Level, 6);

            // X's profiler continues on a survivor from its snapshot: the trend is still the ramp's, not a fresh zero.
            var after = (await probe.AwaitStatusAsync(survivor, s => s.Hosts.TryGetValue(host, out var p) && p.At > killedAt.AddSeconds(1),
                TimeSpan.FromSeconds(30) - killClock.Elapsed, $"{host} profiled after the kill")).Hosts[host].Metrics[MetricNames.VramUtil];
            var profilerBack = killClock.Elapsed;
            _output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0} s  after: actuator back in {actuatorBack.TotalSeconds:0.0} s (seq {next.Sequence}, level {next.Level:0.###}), " +
                              $"profiler back in {profilerBack.TotalSeconds:0.0} s (trend {after.Trend:0.00000}/s, estimate {after.Estimate:0.000})");
            Assert.True(profilerBack <= TimeSpan.FromSeconds(30));
            Assert.InRange(after.Trend, 0.002, 0.006);

            // The entities really moved: sharding now places both on a survivor.
            var moved = await probe.ShardingAsync(survivor);
            var victimAddress = NodeOptions.Address(port[victim]);
            Assert.DoesNotContain(moved.Regions, r => r.Node == victimAddress && r.Shards.Values.Any(e => e.Contains(host) || e.Contains($"ct-y-{pair}")));

            // The journal holds each of Y's decisions once, with the sequences Y received.
            feeding.Cancel();
            var journal = _postgres.Query(
                $"SELECT sequence_number FROM journal WHERE persistence_id = 'actuator-ct-y-{pair}' AND manifest = 'decision.v1' ORDER BY sequence_number");
            var rows = journal.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.Equal(rows.Length, rows.Distinct().Count());
            var received = y.Select(t => t.Sequence).Distinct().Order().ToArray();
            Assert.Equal(Enumerable.Range(1, received.Length).Select(i => (long)i), received);
            Assert.True(rows.Length >= received.Length, $"journal has {rows.Length} decisions, Y received {received.Length}");

            // The resolver downed the dead node.
            var downed = new Regex($@"(SBR is downing|Leader is removing.*unreachable|Marking unreachable node).*127\.0\.0\.1:{port[victim]}");
            Assert.Contains(nodes.Where((_, i) => i != victim).SelectMany(n => n.Lines), l => downed.IsMatch(l));
            await feeder.ContinueWith(_ => { });
        }
        catch
        {
            foreach (var node in nodes) _output.WriteLine(node.Tail(30));
            throw;
        }
        finally
        {
            feeding.Cancel();
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }

    private static (int Victim, int Pair) FindColocated(ShardingState state, int[] ports)
    {
        for (var n = 0; n < ports.Length; n++)
        {
            var address = NodeOptions.Address(ports[n]);
            var here = state.Regions.Where(r => r.Node == address).ToList();
            var profilers = here.Where(r => r.Region == "profiler").SelectMany(r => r.Shards.Values.SelectMany(e => e)).ToHashSet();
            var actuators = here.Where(r => r.Region == "actuator").SelectMany(r => r.Shards.Values.SelectMany(e => e)).ToHashSet();
            for (var i = 0; i < Pairs; i++)
                if (profilers.Contains($"ct-host-{i}") && actuators.Contains($"ct-y-{i}")) return (n, i);
        }
        throw new InvalidOperationException("no node hosts both a ct-host profiler and its ct-y actuator: " +
                                            string.Join("; ", state.Regions.Select(r => $"{r.Node} {r.Region}: {string.Join(",", r.Shards.Values.SelectMany(e => e))}")));
    }

    private static async Task AwaitAsync(Func<bool> condition, TimeSpan within, string what)
    {
        var deadline = DateTime.UtcNow + within;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what}: not within {within.TotalSeconds:0} s");
            await Task.Delay(200);
        }
    }
}
