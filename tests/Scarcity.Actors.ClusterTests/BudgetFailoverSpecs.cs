using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using Akka.Actor;
using Scarcity.Actors.ClusterTests.Harness;
using Scarcity.Actors.Contracts;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.ClusterTests;

/// <summary>
/// Issue 16 item 5: a rack power budget over three governor processes on one PostgreSQL. Three GPU hosts labelled
/// <c>rack=r12</c> draw 33 kW against a 30 kW budget; the budget's owner (a cluster singleton) caps the lowest-priority
/// subsystem first and the next only after its hold; the owner's node is killed with -9 and the new owner keeps the caps
/// (from its journal) while the rack stays between the release line and the limit, then releases them, highest priority
/// first, once the load falls. The hosts' GPU power is fed from this process (this machine has no GPU) through the
/// same path a sensor's samples take; the nodes' own hosts carry <c>rack=r12</c> from their sensor configuration, and
/// the budget lists them as selected but without <c>gpu_power_w</c> (never as 0 W).
/// </summary>
public sealed class BudgetFailoverSpecs : Akka.TestKit.Xunit2.TestKit, IClassFixture<PostgresFixture>
{
    private const string Budget = "rack-r12-power";
    private static readonly TimeSpan Formation = TimeSpan.FromSeconds(90);
    private static readonly string[] Hosts = ["r12-gpu-1", "r12-gpu-2", "r12-gpu-3"];
    private readonly PostgresFixture _postgres;
    private readonly ITestOutputHelper _output;

    public BudgetFailoverSpecs(PostgresFixture postgres, ITestOutputHelper output) : base(GovernorProbe.Hocon, "budget-probe", output)
    {
        _postgres = postgres;
        _output = output;
    }

    private static string[] BudgetArgs() =>
    [
        "--Scarcity:Sensor:Labels:rack=r12",
        "--Scarcity:Sensor:LabelsInterval=00:00:02",
        $"--Scarcity:Policy:Budgets:0:Name={Budget}",
        "--Scarcity:Policy:Budgets:0:Metric=gpu_power_w",
        "--Scarcity:Policy:Budgets:0:Aggregate=sum",
        "--Scarcity:Policy:Budgets:0:Signal=raw",
        "--Scarcity:Policy:Budgets:0:Selector:rack=r12",
        "--Scarcity:Policy:Budgets:0:Limit=30000",
        "--Scarcity:Policy:Budgets:0:Action=shed_load",
        "--Scarcity:Policy:Budgets:0:Step=0.5",
        "--Scarcity:Policy:Budgets:0:MinLevel=0.25",
        "--Scarcity:Policy:Budgets:0:Hold=00:00:03",
        "--Scarcity:Policy:Budgets:0:RecoveryHold=00:00:05",
        "--Scarcity:Policy:Budgets:0:ReleaseMargin=0.05",
        "--Scarcity:Policy:Budgets:0:ExcludeAfter=00:00:20",
    ];

    [Fact]
    public async Task The_owner_caps_the_lowest_priority_first_and_after_kill_9_of_its_node_the_new_owner_keeps_the_caps_and_releases_them()
    {
        var ports = new HashSet<int>();
        while (ports.Count < 3) ports.Add(RepoPaths.FreePort());
        var port = ports.ToArray();
        int[] seeds = [port[0], port[1]];
        var clock = Stopwatch.StartNew();
        var nodes = new NodeProcess[3];
        for (var i = 0; i < 3; i++)
            nodes[i] = NodeProcess.Start(new NodeOptions($"node{i + 1}", $"gpu-node-{i + 1}", port[i], seeds, _postgres.ConnectionString,
                StableAfterSeconds: 5, ExtraArgs: BudgetArgs()));
        var probe = new GovernorProbe(Sys);
        using var feeding = new CancellationTokenSource();
        try
        {
            foreach (var p in port)
                await probe.AwaitStatusAsync(p, s => s.Hosts.Count >= 3, Formation, "the three nodes' hosts");
            Note(clock, "cluster formed");

            // Three subsystems, one per rack host, priorities 1 < 5 < 10; they declare shed_load only, which no default
            // rule moves without latency reports, so every Throttle they get is the budget's.
            (string Name, int Priority)[] subsystems = [("batch", 1), ("discovery", 5), ("inference", 10)];
            var throttles = subsystems.ToDictionary(s => s.Name, _ => new ConcurrentQueue<Throttle>());
            for (var i = 0; i < subsystems.Length; i++)
            {
                var registered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var queue = throttles[subsystems[i].Name];
                var actor = Sys.ActorOf(AckingSubsystem<Throttle>.Props(queue, registered, (t, _) => t), subsystems[i].Name);
                probe.Send(port[0], ServicePaths.Policy, new RegisterSubsystem(subsystems[i].Name, Hosts[i], subsystems[i].Priority, [ActionNames.ShedLoad], actor), actor);
                await registered.Task.WaitAsync(TimeSpan.FromSeconds(60));
            }

            var watts = 11000.0; // per host: 33 kW against 30 kW
            var feedPort = port[0];
            var feeder = Task.Run(async () =>
            {
                using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
                var tick = 0;
                while (await timer.WaitForNextTickAsync(feeding.Token))
                {
                    var now = DateTimeOffset.UtcNow;
                    var target = Volatile.Read(ref feedPort);
                    foreach (var host in Hosts)
                    {
                        probe.Send(target, ServicePaths.Profilers, new Sample(host, now, [new MetricValue(MetricNames.GpuPowerW, Volatile.Read(ref watts))], []));
                        // These hosts have no sensor process of their own: their labels come the way a sensor's do, on the bus.
                        if (tick % 8 == 0)
                            probe.Publish(target, BudgetTopics.HostLabels, new HostLabels(host, ImmutableDictionary<string, string>.Empty.Add("rack", "r12"), now));
                    }
                    tick++;
                }
            });

            // The lowest priority is cut first, down to its floor, and the next one only after the hold.
            await AwaitAsync(() => throttles["discovery"].Any(t => t.Level < 1), TimeSpan.FromSeconds(90), "discovery capped after batch");
            var batch = throttles["batch"].OrderBy(t => t.Sequence).ToList();
            var discoveryFirst = throttles["discovery"].OrderBy(t => t.Sequence).First();
            Note(clock, $"batch {string.Join(" ", batch.Select(t => t.Level))}, then discovery {discoveryFirst.Level}");
            Assert.Equal([0.5, 0.25], batch.Select(t => t.Level).Take(2));
            Assert.All(batch, t => Assert.Contains($"budget {Budget}", t.Reason.Rule));
            Assert.Equal(0.5, discoveryFirst.Level);
            Assert.True(discoveryFirst.IssuedAt - batch[1].IssuedAt >= TimeSpan.FromSeconds(2.9),
                $"discovery was cut {(discoveryFirst.IssuedAt - batch[1].IssuedAt).TotalSeconds:0.0} s after batch's last cut; the hold is 3 s");

            // Between the release line (28.5 kW) and the limit: the caps hold. Read the budget from any node's CLI endpoint.
            Volatile.Write(ref watts, 9800); // 29.4 kW
            await Task.Delay(TimeSpan.FromSeconds(4)); // one more cut may have been under way at 33 kW: let it land
            var held = await AwaitBudgetAsync(probe, port[0], b => b.Budgets[0].State == "holding", TimeSpan.FromSeconds(30), "holding");
            var capsBefore = held.Budgets[0].Caps.ToDictionary(c => c.Subsystem, c => c.Level);
            Note(clock, $"holding at {held.Budgets[0].Value} W; owner {held.Owner}; caps {string.Join(", ", capsBefore.Select(c => $"{c.Key}={c.Value}"))}; " +
                       $"left out: {string.Join("; ", held.Budgets[0].StaleHosts)}");
            Assert.Equal(0.25, capsBefore["batch"]);
            Assert.True(capsBefore["discovery"] <= 0.5);
            Assert.Equal(Hosts, held.Budgets[0].Hosts.ToArray());
            foreach (var nodeHost in new[] { "gpu-node-1", "gpu-node-2", "gpu-node-3" })
                Assert.Contains($"{nodeHost} (no gpu_power_w)", held.Budgets[0].StaleHosts);

            // Kill -9 the owner's node; feed and ask through a survivor.
            var victim = Array.FindIndex(port, p => NodeOptions.Address(p) == held.Owner);
            Assert.True(victim >= 0, $"owner {held.Owner} is none of the nodes");
            var survivor = port[victim == 0 ? 1 : 0];
            Volatile.Write(ref feedPort, survivor);
            await Task.Delay(1000);
            var sentBeforeKill = throttles.ToDictionary(t => t.Key, t => t.Value.Count);
            nodes[victim].Kill();
            var kill = Stopwatch.StartNew();
            Note(clock, $"node{victim + 1} (the owner) killed (-9)");

            var moved = await AwaitBudgetAsync(probe, survivor, b => b.Owner != held.Owner && b.Owner.Length > 0 && b.Budgets[0].Caps.Length > 0,
                TimeSpan.FromSeconds(90), "a new owner with the caps");
            Note(clock, $"new owner {moved.Owner} after {kill.Elapsed.TotalSeconds:0.0} s: caps {string.Join(", ", moved.Budgets[0].Caps.Select(c => $"{c.Subsystem}={c.Level}"))}");
            Assert.Equal(capsBefore, moved.Budgets[0].Caps.ToDictionary(c => c.Subsystem, c => c.Level));
            // Still holding for a while: nothing released or cut by the new owner.
            await Task.Delay(TimeSpan.FromSeconds(8));
            Assert.All(throttles, t => Assert.Equal(sentBeforeKill[t.Key], t.Value.Count));

            // The load falls under the release line: the caps go, highest priority first.
            var fallAt = DateTimeOffset.UtcNow;
            Volatile.Write(ref watts, 8000); // 24 kW
            await AwaitAsync(() => throttles["batch"].Any(t => t.Level >= 1 && t.IssuedAt > fallAt), TimeSpan.FromSeconds(90), "batch released");
            var releases = throttles.SelectMany(t => t.Value).Where(t => t.IssuedAt > fallAt).OrderBy(t => t.IssuedAt).ToList();
            Note(clock, "releases: " + string.Join(", ", releases.Select(t => $"{t.Subsystem}={t.Level}")));
            var priority = subsystems.ToDictionary(x => x.Name, x => x.Priority);
            Assert.Equal(releases.Select(t => priority[t.Subsystem]).OrderByDescending(x => x), releases.Select(t => priority[t.Subsystem]));
            Assert.Contains(releases, t => t.Subsystem == "discovery" && t.Level >= 1);
            var ok = await AwaitBudgetAsync(probe, survivor, b => b.Budgets[0].Caps.Length == 0, TimeSpan.FromSeconds(30), "no caps");
            Assert.Equal("ok", ok.Budgets[0].State);

            // The owner's journal holds every cap change; each actuator journaled its caps too.
            feeding.Cancel();
            var ownerEvents = _postgres.Query("SELECT count(*) FROM journal WHERE persistence_id = 'budget-owner' AND manifest = 'apply-budget-cap.v1'").Trim();
            var actuatorEvents = _postgres.Query("SELECT count(*) FROM journal WHERE persistence_id = 'actuator-batch' AND manifest = 'apply-budget-cap.v1'").Trim();
            Note(clock, $"journal: {ownerEvents} cap changes of the owner, {actuatorEvents} caps in actuator-batch");
            Assert.True(int.Parse(ownerEvents) >= 5);
            Assert.True(int.Parse(actuatorEvents) >= 4);
            await feeder.ContinueWith(_ => { });
        }
        catch
        {
            foreach (var node in nodes) _output.WriteLine(node.Tail(40));
            throw;
        }
        finally
        {
            feeding.Cancel();
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }

    private void Note(Stopwatch clock, string line) => _output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0} s  {line}");

    private static async Task<BudgetsStatus> AwaitBudgetAsync(GovernorProbe probe, int port, Func<BudgetsStatus, bool> accept, TimeSpan within, string what)
    {
        var deadline = DateTime.UtcNow + within;
        var last = "no answer";
        while (true)
        {
            try
            {
                var status = await probe.OperationsAsync<BudgetsStatus>(port, GetBudgets.Instance, TimeSpan.FromSeconds(10));
                if (status.Budgets.Length > 0 && accept(status)) return status;
                last = string.Join("; ", status.Budgets.Select(b => $"owner {status.Owner} {b.State} {b.Value} W caps {string.Join(",", b.Caps.Select(c => $"{c.Subsystem}={c.Level}"))}"));
            }
            catch (Exception e) // no answer yet, or OperationFailed while the singleton moves
            {
                last = e.Message;
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"budget {what}: not within {within.TotalSeconds:0} s; last: {last}");
            await Task.Delay(1000);
        }
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
