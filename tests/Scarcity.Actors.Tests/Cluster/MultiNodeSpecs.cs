using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster.Sharding;
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

    /// <summary>
    /// Forms the cluster one node at a time, each step awaited to completion, so that the spec starts from a settled
    /// cluster instead of racing its formation:
    /// <list type="number">
    /// <item>Node 1 comes Up alone and its profiler and actuator coordinators (cluster singletons) start and answer its
    /// regions. Only then does node 2 join, and only when node 2 is Up in every node's view and its own regions have
    /// registered with those coordinators (a real round trip from the new node) does node 3 join. No member joins while
    /// a singleton manager is still forming, which is the window of Akka.NET's formation race between singleton managers
    /// (akkadotnet/akka.net#8583, fixed after 1.5.74): a settled oldest manager sees a newcomer, with the highest up
    /// number, join as a younger member.</item>
    /// <item>Distributed pub-sub has propagated every node's subscriptions to every node: the fleet views and decision
    /// logs publish each digest or subsystem change once, and one published before the publishing node knows a
    /// subscriber on another node is lost for that node.</item>
    /// </list>
    /// </summary>
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
            // The spec repeats one hot reading until node C's subscriber sees a decision (the first ones may beat the
            // subscription's gossip to the deciding node); the effect check would rightly hold a cut that changes nothing.
            config.Policy.IneffectiveAfterCuts = 0;
            _nodes.Add(await GovernorHost.StartAsync(config, verifySerialization: false));
            await AwaitJoined(_nodes[^1]);
        }
        await AwaitPubSubPropagated();
    }

    /// <summary>
    /// Every node sees every member Up, and the new node's profiler and actuator regions have registered with their
    /// coordinators: the region forwards <see cref="GetCurrentRegions"/> to its coordinator once registered (before, it
    /// answers an empty set itself), and the coordinator answers with the regions it knows, which must be one per node.
    /// </summary>
    private async Task AwaitJoined(GovernorHost joined)
    {
        var kit = new Akka.TestKit.Xunit2.TestKit(_nodes[0].System);
        foreach (var node in _nodes)
        {
            var cluster = Akka.Cluster.Cluster.Get(node.System);
            await kit.AwaitAssertAsync(() =>
            {
                Assert.Equal(_nodes.Count, cluster.State.Members.Count);
                Assert.All(cluster.State.Members, m => Assert.Equal(Akka.Cluster.MemberStatus.Up, m.Status));
            }, Wait);
        }

        var addresses = _nodes.Select(n => Akka.Cluster.Cluster.Get(n.System).SelfAddress).OrderBy(a => a.ToString()).ToList();
        foreach (var region in new[] { joined.Registry.Get<GovernorActors.ProfilerRegion>(), joined.Registry.Get<GovernorActors.ActuatorRegion>() })
            await kit.AwaitAssertAsync(async () =>
            {
                var regions = await region.Ask<CurrentRegions>(GetCurrentRegions.Instance, Wait);
                Assert.Equal(addresses, regions.Regions.OrderBy(a => a.ToString()));
            }, Wait);
        // The policy store (a cluster singleton too) has answered the new node: no node joins while its manager forms.
        await kit.AwaitAssertAsync(() => Assert.NotNull(Scarcity.Actors.Policies.NodePolicy.Get(joined.System).Current), Wait);
    }

    /// <summary>
    /// Every node's mediator knows every other node's subscriptions of the fleet view and the decision log. First each
    /// node's own subscriptions are in place; then a probe on each node subscribes to a formation topic, which makes that
    /// node's pub-sub registry entry newer than those subscriptions. Pub-sub gossip hands a node's entries on oldest first,
    /// so once every node's publication on the formation topic reaches the probe on every other node, every node also
    /// knows the older subscriptions there.
    /// </summary>
    private async Task AwaitPubSubPropagated()
    {
        const string formation = "spec.multinode.formation";
        var kit = new Akka.TestKit.Xunit2.TestKit(_nodes[0].System);
        foreach (var node in _nodes)
        {
            var mediator = DistributedPubSub.Get(node.System).Mediator;
            // The fleet view follows both digests, the decision log the subsystem digest.
            foreach (var (topic, subscribers) in new[] { (Topics.TelemetryDigest, 1), (Topics.SubsystemDigest, 2) })
                await kit.AwaitAssertAsync(async () => Assert.Equal(subscribers, await mediator.Ask<int>(new Akka.Cluster.Tools.PublishSubscribe.Internal.CountSubscribers(topic), Wait)), Wait);
        }

        var probes = new List<Akka.TestKit.TestProbe>();
        foreach (var node in _nodes)
        {
            var probe = kit.CreateTestProbe(node.System);
            DistributedPubSub.Get(node.System).Mediator.Tell(new Subscribe(formation, probe.Ref), probe.Ref);
            probe.ExpectMsg<SubscribeAck>(Wait);
            probes.Add(probe);
        }

        var received = probes.Select(_ => new HashSet<string>()).ToList();
        await kit.AwaitAssertAsync(() =>
        {
            for (var i = 0; i < _nodes.Count; i++)
                DistributedPubSub.Get(_nodes[i].System).Mediator.Tell(new Publish(formation, $"from node {i + 1}"));
            for (var i = 0; i < probes.Count; i++)
                received[i].UnionWith(probes[i].ReceiveWhile(TimeSpan.FromMilliseconds(300), m => m as string).OfType<string>());
            Assert.All(received, r => Assert.Equal(_nodes.Count, r.Count));
        }, Wait);

        for (var i = 0; i < probes.Count; i++)
        {
            DistributedPubSub.Get(_nodes[i].System).Mediator.Tell(new Unsubscribe(formation, probes[i].Ref), probes[i].Ref);
            probes[i].FishForMessage<UnsubscribeAck>(_ => true, Wait);
        }
    }

    /// <summary>
    /// Every node's mediator knows <paramref name="subscriber"/>'s subscription to <paramref name="topic"/>: each node
    /// publishes a marker on the topic until the subscriber has one from every node.
    /// </summary>
    private async Task AwaitSubscriberKnownEverywhere(string topic, Akka.TestKit.TestProbe subscriber)
    {
        var kit = new Akka.TestKit.Xunit2.TestKit(_nodes[0].System);
        var seen = new HashSet<string>();
        await kit.AwaitAssertAsync(() =>
        {
            for (var i = 0; i < _nodes.Count; i++)
                DistributedPubSub.Get(_nodes[i].System).Mediator.Tell(new Publish(topic, $"marker from node {i + 1}"));
            seen.UnionWith(subscriber.ReceiveWhile(TimeSpan.FromMilliseconds(300), m => m as string).OfType<string>());
            Assert.Equal(_nodes.Count, seen.Count);
        }, Wait);
        subscriber.ReceiveWhile(TimeSpan.FromMilliseconds(300), m => m as string);
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
        // A decision published by a node that does not know this subscription yet is lost for it, and a constant hot
        // reading reaches the floor after a few cuts: so every node must know the subscriber before the first sample.
        await AwaitSubscriberKnownEverywhere(Topics.Signal(ActionNames.ReduceBatch), signals);

        // a subsystem on host gpu-node-1 registers through node B; its samples enter through node C
        var engine = kitA.CreateTestProbe();
        b.Policy.Tell(new RegisterSubsystem("engine", "gpu-node-1", 5, [ActionNames.ReduceBatch], engine.Ref), engine.Ref);
        engine.ExpectMsg<SubsystemRegistered>(Wait);
        var t = 0.0;
        await kitA.AwaitAssertAsync(() =>
        {
            // each try a sample past the cooldown: the first ones may beat the subsystem's attachment to its host
            c.Profilers.Tell(VramSample("gpu-node-1", 0.95, t += 10));
            var decision = signals.FishForMessage<Decision>(_ => true, TimeSpan.FromSeconds(2));
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
        // Strict wire: everything the nodes sent each other (gossip, sharding, pub-sub, persistence, ours) had a
        // serializer of its own; nothing fell back to the disabled JSON default or was refused on arrival.
        Assert.All(_nodes, n => Assert.Empty(WireRefusals.Get(n.System).Counts));
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

    /// <summary>Per node address: the hosts of its profilers and the subsystems of its actuators (the operations view).</summary>
    private static async Task<Dictionary<string, (HashSet<string> Profilers, HashSet<string> Actuators)>> Placement(IActorRef operations)
    {
        var sharding = await operations.Ask<ShardingState>(GetShardingState.Instance, Wait);
        return sharding.Regions.GroupBy(r => r.Node).ToDictionary(g => g.Key, g => (
            g.Where(r => r.Region == "profiler").SelectMany(r => r.Shards.Values.SelectMany(e => e)).ToHashSet(),
            g.Where(r => r.Region == "actuator").SelectMany(r => r.Shards.Values.SelectMany(e => e)).ToHashSet()));
    }

    private static void AssertColocated(Dictionary<string, (HashSet<string> Profilers, HashSet<string> Actuators)> placement, int hosts)
    {
        for (var i = 0; i < hosts; i++)
        {
            var withProfiler = placement.Where(p => p.Value.Profilers.Contains($"place-host-{i}")).Select(p => p.Key).ToList();
            var withActuator = placement.Where(p => p.Value.Actuators.Contains($"place-sub-{i}")).Select(p => p.Key).ToList();
            Assert.Single(withProfiler);
            Assert.Equal(withProfiler, withActuator);
        }
    }

    [Fact]
    // After a node leaves or dies the shards, profilers and actuators together, move as units: that runs with real processes
    // and PostgreSQL in ClusterTests (FailoverSpecs kills the node holding a host's profiler and its subsystem's actuator).
    public async Task A_hosts_profiler_and_its_subsystems_actuators_live_on_one_node()
    {
        const int hosts = 9;
        var kit = new Akka.TestKit.Xunit2.TestKit(_nodes[0].System);
        var engines = Enumerable.Range(0, hosts).Select(_ => kit.CreateTestProbe()).ToList();
        static void RegisterAndSample(IReadOnlyList<GovernorHost> nodes, IReadOnlyList<Akka.TestKit.TestProbe> engines, double at, TimeSpan wait)
        {
            for (var i = 0; i < hosts; i++)
            {
                nodes[i % nodes.Count].Policy.Tell(new RegisterSubsystem($"place-sub-{i}", $"place-host-{i}", 5, [ActionNames.ReduceBatch], engines[i].Ref), engines[i].Ref);
                nodes[(i + 1) % nodes.Count].Profilers.Tell(VramSample($"place-host-{i}", 0.5, at));
            }
            foreach (var engine in engines) engine.FishForMessage<SubsystemRegistered>(_ => true, wait);
        }

        RegisterAndSample(_nodes, engines, 1, Wait);
        var operations = _nodes[0].Registry.Get<GovernorActors.Operations>();
        await kit.AwaitAssertAsync(async () =>
        {
            var placement = await Placement(operations);
            AssertColocated(placement, hosts);
            Assert.True(placement.Count(p => p.Value.Profilers.Any(h => h.StartsWith("place-host-", StringComparison.Ordinal))) >= 2,
                "the hosts spread over more than one node");
        }, Wait);
    }
}
