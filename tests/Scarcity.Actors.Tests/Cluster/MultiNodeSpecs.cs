using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Hosting;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Testing;
using Xunit;

namespace Scarcity.Actors.Tests.Cluster;

/// <summary>
/// Three governor nodes in one process form a real cluster on loopback: one governor view, pub-sub across nodes,
/// entities reachable from any node. (Failover with state runs as real processes on PostgreSQL in ClusterTests.)
/// </summary>
public sealed class MultiNodeSpecs : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly List<GovernorHost> _nodes = [];

    public async Task InitializeAsync()
    {
        var seedPort = GovernorHost.FreePort();
        for (var i = 0; i < 3; i++)
        {
            var config = GovernorHost.SpecConfig();
            config.Host = $"gpu-node-{i + 1}";
            config.Cluster.Port = i == 0 ? seedPort : 0;
            config.Cluster.SeedNodes = [$"akka.tcp://{GovernorHostingExtensions.SystemName}@127.0.0.1:{seedPort}"];
            config.Policy.Policies["*"] = [new PolicyRule(MetricNames.VramUtil, 0.85, ActionNames.ReduceBatch, 0.5) { Signal = SignalKind.Raw }];
            _nodes.Add(await GovernorHost.StartAsync(config, verifySerialization: false));
        }
        var cluster = Akka.Cluster.Cluster.Get(_nodes[0].System);
        var kit = new Akka.TestKit.Xunit2.TestKit(_nodes[0].System);
        await kit.AwaitAssertAsync(() => Assert.Equal(3, cluster.State.Members.Count(m => m.Status == Akka.Cluster.MemberStatus.Up)), Wait);
    }

    public async Task DisposeAsync()
    {
        foreach (var node in Enumerable.Reverse(_nodes))
        {
            await node.DisposeAsync();
            node.DeleteDatabase();
        }
    }


    private static Sample VramSample(string host, double vram, double seconds) =>
        new(host, T0.AddSeconds(seconds), [new MetricValue(MetricNames.VramUtil, vram)], []);

    [Fact]
    public async Task A_subscriber_on_node_C_sees_a_decision_for_a_subsystem_of_host_A_and_any_node_answers_for_the_fleet()
    {
        var (a, b, c) = (_nodes[0], _nodes[1], _nodes[2]);
        var kitA = new Akka.TestKit.Xunit2.TestKit(a.System);
        var kitC = new Akka.TestKit.Xunit2.TestKit(c.System);
        var signals = kitC.CreateTestProbe();
        DistributedPubSub.Get(c.System).Mediator.Tell(new Subscribe(Topics.Signal(ActionNames.ReduceBatch), signals.Ref), signals.Ref);
        signals.ExpectMsg<SubscribeAck>(Wait);

        // a subsystem on host gpu-node-1 registers through node B; its samples enter through node C
        var engine = kitA.CreateTestProbe();
        b.Policy.Tell(new RegisterSubsystem("engine", "gpu-node-1", 5, [ActionNames.ReduceBatch], engine.Ref), engine.Ref);
        engine.ExpectMsg<SubsystemRegistered>(Wait);
        var t = 0.0;
        await kitA.AwaitAssertAsync(() =>
        {
            // each try a sample past the cooldown: the first ones may beat the subsystem's attachment to its host
            c.Profilers.Tell(VramSample("gpu-node-1", 0.95, t += 10));
            var decision = signals.ExpectMsg<Decision>(TimeSpan.FromSeconds(2));
            Assert.Equal("engine", decision.Subsystem);
            Assert.Equal("gpu-node-1", decision.Host);
        }, Wait);
        var throttle = engine.FishForMessage<Throttle>(_ => true, Wait);
        engine.Reply(new ThrottleAck("engine", throttle.Sequence, true, "applied"));

        foreach (var node in _nodes)
        {
            await kitA.AwaitAssertAsync(async () =>
            {
                var view = await node.Monitor.Ask<GovernorStatus>(GetGovernorStatus.Instance, Wait);
                Assert.True(view.Hosts.ContainsKey("gpu-node-1"));
                var status = view.Subsystems["engine"];
                Assert.True(status.Levels[ActionNames.ReduceBatch] <= throttle.Level);
                Assert.True(status.LastAckedSequence >= throttle.Sequence);
            }, Wait);
        }
    }

    [Fact]
    public async Task Each_host_gets_one_profiler_entity_somewhere_in_the_cluster_and_its_profile_is_seen_everywhere()
    {
        var kit = new Akka.TestKit.Xunit2.TestKit(_nodes[0].System);
        for (var i = 0; i < 3; i++)
            for (var s = 0; s < 4; s++)
                _nodes[i].Profilers.Tell(VramSample($"gpu-node-{i + 1}", 0.4 + 0.1 * i, s * 0.25));

        foreach (var node in _nodes)
            await kit.AwaitAssertAsync(async () =>
            {
                var view = await node.Monitor.Ask<GovernorStatus>(GetGovernorStatus.Instance, Wait);
                Assert.Equal(["gpu-node-1", "gpu-node-2", "gpu-node-3"], view.Hosts.Keys.Order());
                Assert.Equal(0.6, view.Hosts["gpu-node-3"].Metrics[MetricNames.VramUtil].Raw, 9);
            }, Wait);

        // every host's profiler entity lives on exactly one node, and the operations endpoint says where
        var operations = _nodes[1].Registry.Get<GovernorActors.Operations>();
        await kit.AwaitAssertAsync(async () =>
        {
            var sharding = await operations.Ask<ShardingState>(GetShardingState.Instance, Wait);
            var profilers = sharding.Regions.Where(r => r.Region == "profiler").SelectMany(r => r.Shards.Values.SelectMany(e => e)).ToList();
            Assert.Equal(["gpu-node-1", "gpu-node-2", "gpu-node-3"], profilers.Order());
        }, Wait);
    }
}
