using System.Diagnostics;
using System.Text.RegularExpressions;
using Scarcity.Actors.ClusterTests.Harness;
using Scarcity.Actors.Contracts;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.ClusterTests;

/// <summary>
/// Three governor processes (the Host dll, roles governor + sensor) on one PostgreSQL database, seeds node1 and node2,
/// probed from this process (not a member): each node's own monitor by its remote path, and through ClusterClient.
/// </summary>
public sealed class ThreeNodeClusterSpecs : Akka.TestKit.Xunit2.TestKit, IClassFixture<PostgresFixture>
{
    private readonly PostgresFixture postgres;
    private readonly ITestOutputHelper output;

    /// <summary>The probe system (remoting, not a member) and the throwaway PostgreSQL.</summary>
    public ThreeNodeClusterSpecs(PostgresFixture postgres, ITestOutputHelper output)
        : base(GovernorProbe.Hocon, "cluster-probe", output)
    {
        this.postgres = postgres;
        this.output = output;
    }

    private static readonly TimeSpan Formation = TimeSpan.FromSeconds(90);
    private static readonly string[] Hosts = ["gpu-node-1", "gpu-node-2", "gpu-node-3"];

    [Fact]
    public async Task Three_processes_form_one_fleet_view_and_a_kill_9_leaves_the_others_answering()
    {
        var connectionString = postgres.ConnectionString; // fails here, with the reason, when PostgreSQL is unavailable
        var ports = DistinctFreePorts(3);
        int[] seeds = [ports[0], ports[1]];
        var clock = Stopwatch.StartNew();
        await using var node1 = NodeProcess.Start(new NodeOptions("node1", Hosts[0], ports[0], seeds, connectionString));
        await using var node2 = NodeProcess.Start(new NodeOptions("node2", Hosts[1], ports[1], seeds, connectionString));
        await using var node3 = NodeProcess.Start(new NodeOptions("node3", Hosts[2], ports[2], seeds, connectionString));
        NodeProcess[] nodes = [node1, node2, node3];
        var probe = new GovernorProbe(Sys);
        try
        {
            // Formation: every node's view holds every host.
            foreach (var port in ports)
            {
                var status = await probe.AwaitStatusAsync(port, s => Hosts.All(s.Hosts.ContainsKey), Formation, "gpu-node-1..3");
                output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0} s  node on {port} sees {GovernorProbe.Describe(status)}");
                await probe.AwaitStatusAsync(port, s => Hosts.All(s.Hosts.ContainsKey), Formation, "gpu-node-1..3", viaClusterClient: true);
            }
            var formed = clock.Elapsed;

            // A subsystem registered through node1's receptionist: its actuator recovers from the PostgreSQL journal
            // before it answers, so the answer proves the shared database works (tables auto-created).
            var engine = CreateTestProbe("engine");
            probe.Send(ports[0], ServicePaths.Policy,
                new RegisterSubsystem("ct_engine", Hosts[0], 1, ["reduce_batch", "throttle", "shed_load"], engine.Ref));
            var registered = (SubsystemRegistered)await engine.FishForMessageAsync(m => m is SubsystemRegistered, TimeSpan.FromSeconds(30));
            Assert.Equal("ct_engine", registered.Name);
            var tables = postgres.Query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
            output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0} s  ct_engine registered on node1; tables in {postgres.Database}: {tables.ReplaceLineEndings(", ")}");
            Assert.Contains("journal", tables);

            // kill -9 of node3: no leaving, no shutdown hook.
            node3.Kill();
            var killedAt = DateTimeOffset.UtcNow;
            output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0} s  node3 killed (-9)");

            // The split-brain resolver (keep-majority, stable-after 20 s) downs it: the leader logs it.
            var downed = new Regex($@"(Marking unreachable node|SBR is downing).*127\.0\.0\.1:{ports[2]}");
            await WaitForAnyAsync([node1, node2], downed, Formation);
            var downedAfter = DateTimeOffset.UtcNow - killedAt;
            output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0} s  node3 downed by the SBR, {downedAfter.TotalSeconds:0.0} s after the kill");

            // The two others answer; their own hosts are fresh; the killed host is no longer live in their view.
            foreach (var port in ports[..2])
            {
                var status = await probe.AwaitStatusAsync(port,
                    s => Fresh(s, Hosts[0], killedAt) && Fresh(s, Hosts[1], killedAt) && NotLive(s, Hosts[2], killedAt),
                    TimeSpan.FromSeconds(60), "gpu-node-1 and -2 fresh, gpu-node-3 not live");
                output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0} s  node on {port} sees {GovernorProbe.Describe(status)}; " +
                                 $"gpu-node-3: {HowNotLive(status, Hosts[2])}");
            }

            // A ClusterClient whose only initial contact was the killed node still answers: it moved to a survivor.
            var viaClient = await probe.AwaitStatusAsync(ports[2], s => Fresh(s, Hosts[0], killedAt),
                TimeSpan.FromSeconds(60), "an answer from a surviving node", viaClusterClient: true);
            output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0} s  the ClusterClient first in contact with node3 is answered: {GovernorProbe.Describe(viaClient)}");

            // PostgreSQL persistence did not fail on any node.
            foreach (var node in nodes)
                Assert.DoesNotContain(node.Lines, l => l.Contains("Npgsql", StringComparison.Ordinal) && l.Contains("ERROR", StringComparison.Ordinal));
            output.WriteLine($"formed in {formed.TotalSeconds:0.0} s, downed {downedAfter.TotalSeconds:0.0} s after the kill, total {clock.Elapsed.TotalSeconds:0.0} s");
        }
        catch
        {
            foreach (var node in nodes) output.WriteLine(node.Tail(25));
            throw;
        }
    }

    /// <summary>A host with a profile made after <paramref name="since"/> whose series are not all stale.</summary>
    private static bool Fresh(GovernorStatus s, string host, DateTimeOffset since) =>
        s.Hosts.TryGetValue(host, out var p) && p.At > since && p.Metrics.Any(m => !m.Value.Stale);

    /// <summary>
    /// The killed host is absent, or every series of it is stale, or (what the current MonitorActor does: it keeps the
    /// last profile it was published) its profile is frozen at a time before the kill.
    /// </summary>
    private static bool NotLive(GovernorStatus s, string host, DateTimeOffset killedAt) =>
        !s.Hosts.TryGetValue(host, out var p) || p.Metrics.All(m => m.Value.Stale) || p.At <= killedAt.AddSeconds(1);

    private static string HowNotLive(GovernorStatus s, string host) =>
        !s.Hosts.TryGetValue(host, out var p) ? "absent"
        : p.Metrics.All(m => m.Value.Stale) ? $"all {p.Metrics.Count} series stale"
        : $"last profile frozen at {p.At:HH:mm:ss.f}, {p.Metrics.Count(m => m.Value.Stale)}/{p.Metrics.Count} series flagged stale";

    private static async Task WaitForAnyAsync(NodeProcess[] nodes, Regex pattern, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (!nodes.Any(n => n.Lines.Any(pattern.IsMatch)))
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"no node logged /{pattern}/ within {within.TotalSeconds:0} s");
            await Task.Delay(500);
        }
    }

    private static int[] DistinctFreePorts(int count)
    {
        var ports = new HashSet<int>();
        while (ports.Count < count) ports.Add(RepoPaths.FreePort());
        return [.. ports];
    }
}
