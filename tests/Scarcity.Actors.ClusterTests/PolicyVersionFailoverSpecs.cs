using Akka.Actor;
using Scarcity.Actors.ClusterTests.Harness;
using Scarcity.Actors.Contracts;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.ClusterTests;

/// <summary>
/// Issue 16, item 1, with real Host processes on a shared PostgreSQL: a policy version applied through one node is used by
/// every node within seconds; after kill -9 of the node holding the policy store (the oldest, a cluster singleton) the
/// store comes back on a survivor with the same history and numbering; a node started later with another policy in its
/// file runs the stored newest version, and says so in its log.
/// </summary>
public sealed class PolicyVersionFailoverSpecs : Akka.TestKit.Xunit2.TestKit, IClassFixture<PostgresFixture>
{
    private const string Token = "policy-spec-token-0123456789";
    private static readonly TimeSpan Formation = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan FewSeconds = TimeSpan.FromSeconds(15);
    private readonly PostgresFixture _postgres;
    private readonly ITestOutputHelper _output;

    public PolicyVersionFailoverSpecs(PostgresFixture postgres, ITestOutputHelper output) : base(GovernorProbe.Hocon, "policy-failover-probe", output)
    {
        _postgres = postgres;
        _output = output;
    }

    private NodeOptions Node(int i, int port, int[] seeds, string cooldown) => new($"policy-node{i}", $"policy-gpu-{i}", port, seeds, _postgres.ConnectionString,
        StableAfterSeconds: 5, ExtraArgs: [$"--Scarcity:Operations:OperatorToken={Token}", $"--Scarcity:Policy:Cooldown={cooldown}"]);

    private async Task<PolicySet> Policies(int port) =>
        await Sys.ActorSelection($"{NodeOptions.Address(port)}{ServicePaths.Operations}").Ask<PolicySet>(GetPolicies.Instance, TimeSpan.FromSeconds(10));

    private async Task AwaitVersion(int port, int version, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        var last = -1;
        while (true)
        {
            try
            {
                last = (await Policies(port)).Version;
                if (last == version) return;
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"node on port {port} runs policy version {last}, not {version}, after {within.TotalSeconds:0} s");
            await Task.Delay(250);
        }
    }

    private async Task<T> AskOperations<T>(GovernorProbe probe, int port, object message)
    {
        var reply = CreateTestProbe();
        probe.Send(port, ServicePaths.Operations, message, reply.Ref);
        return await Task.Run(() => reply.ExpectMsg<T>(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task A_version_reaches_every_node_within_seconds_and_survives_kill_9_of_the_stores_node_and_a_late_node_runs_it_not_its_file()
    {
        var ports = new HashSet<int>();
        while (ports.Count < 4) ports.Add(RepoPaths.FreePort());
        var port = ports.ToArray();
        int[] seeds = [port[0], port[1]];
        var nodes = new List<NodeProcess>();
        var probe = new GovernorProbe(Sys);
        try
        {
            // node1 starts first: the oldest member, where the policy store singleton runs.
            nodes.Add(NodeProcess.Start(Node(1, port[0], seeds, "00:00:05")));
            await probe.AwaitStatusAsync(port[0], s => s.Hosts.Count >= 1, Formation, "node1 up");
            nodes.Add(NodeProcess.Start(Node(2, port[1], seeds, "00:00:05")));
            nodes.Add(NodeProcess.Start(Node(3, port[2], seeds, "00:00:05")));
            foreach (var p in port[..3]) await probe.AwaitStatusAsync(p, s => s.Hosts.Count >= 3, Formation, "the three nodes' hosts");
            foreach (var p in port[..3]) await AwaitVersion(p, 1, Formation);

            var applied = await AskOperations<PolicyApplied>(probe, port[1],
                new ApplyPolicy("""{"Cooldown":"00:00:02","RecoveryStep":0.25}""", "alice@ops", new OperatorCredential("alice@ops", Token)));

            Assert.Equal(2, applied.Version.Version);
            Assert.Contains("Cooldown: 00:00:05 -> 00:00:02", applied.Version.Diff);
            var appliedAt = DateTime.UtcNow;
            foreach (var p in port[..3]) await AwaitVersion(p, 2, FewSeconds);
            _output.WriteLine($"every node ran version 2 {(DateTime.UtcNow - appliedAt).TotalSeconds:0.0} s after the store answered (load: {File.ReadAllText("/proc/loadavg").Trim()})");
            Assert.Equal(2, (await Policies(port[2])).Settings.Cooldown.TotalSeconds);

            nodes[0].Kill();
            _output.WriteLine("node1 (the policy store's node) killed (-9)");
            // The store's history survives: a survivor's singleton recovers it from the database and numbers on from it.
            PolicyVersions? versions = null;
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
            while (versions is null)
            {
                var reply = CreateTestProbe();
                probe.Send(port[1], ServicePaths.Operations, new GetPolicyVersions(), reply.Ref);
                var answer = await Task.Run(() => reply.ReceiveOne(TimeSpan.FromSeconds(15)));
                if (answer is PolicyVersions v) versions = v;
                else if (DateTime.UtcNow > deadline) throw new TimeoutException($"no policy history from a survivor after the kill; last answer {answer}");
                else await Task.Delay(1000);
            }
            Assert.Equal([1, 2], versions.Versions.Select(v => v.Version));
            Assert.Equal("alice@ops", versions.Versions[1].Author);
            foreach (var p in port[1..3]) Assert.Equal(2, (await Policies(p)).Version);
            var third = await AskOperations<PolicyApplied>(probe, port[2],
                new RollbackPolicy(1, "bob@ops", new OperatorCredential("bob@ops", Token)));
            Assert.Equal((3, 1), (third.Version.Version, third.Version.RolledBackFrom ?? 0));
            foreach (var p in port[1..3]) await AwaitVersion(p, 3, FewSeconds);

            // A node started now, its file saying Cooldown 4 s, runs the stored version 3 (5 s) and logs why.
            nodes.Add(NodeProcess.Start(Node(4, port[3], [port[1], port[2]], "00:00:04")));
            await AwaitVersion(port[3], 3, Formation);
            Assert.Equal(5, (await Policies(port[3])).Settings.Cooldown.TotalSeconds);
            await nodes[3].WaitForLineAsync("configuration file policy is not used", TimeSpan.FromSeconds(30));
        }
        catch
        {
            foreach (var node in nodes) _output.WriteLine(node.Tail(40));
            throw;
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }
}
