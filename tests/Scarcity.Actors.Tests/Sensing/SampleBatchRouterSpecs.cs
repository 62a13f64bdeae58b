using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Sensing;
using Scarcity.Actors.Sharding;
using Scarcity.Actors.Testing;
using Xunit;

namespace Scarcity.Actors.Tests.Sensing;

/// <summary>Issue 15: the samples of one tick travel as one <see cref="SampleBatch"/> per node, and none is lost on the way.</summary>
public sealed class SampleBatchRouterSpecs : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private GovernorHost _host = null!;
    private Akka.TestKit.Xunit2.TestKit _kit = null!;

    public async Task InitializeAsync()
    {
        _host = await GovernorHost.StartAsync(GovernorHost.SpecConfig());
        _kit = new Akka.TestKit.Xunit2.TestKit(_host.System);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _host.DeleteDatabase();
    }

    private static SampleBatch Batch(int hosts, double seconds, double vram) =>
        new([.. Enumerable.Range(0, hosts).Select(h => new Sample($"batch-host-{h}", T0.AddSeconds(seconds), [new MetricValue(MetricNames.VramUtil, vram)], []))]);

    [Fact]
    public async Task A_batch_given_to_the_profilers_gateway_reaches_the_profiler_of_every_host_in_it()
    {
        _host.Profilers.Tell(Batch(5, 0, 0.42));

        await _kit.AwaitAssertAsync(async () =>
        {
            var view = await _host.Monitor.Ask<GovernorStatus>(GetGovernorStatus.Instance, Wait);
            for (var h = 0; h < 5; h++) Assert.Equal(0.42, view.Hosts[$"batch-host-{h}"].Metrics[MetricNames.VramUtil].Raw, 9);
        }, Wait);
    }

    [Fact]
    public async Task The_router_hands_every_sample_on_once_in_order_whether_or_not_it_has_learnt_the_shard_map_yet()
    {
        var profilers = _kit.CreateTestProbe();
        var elsewhere = _kit.CreateTestProbe();
        var refresh = TimeSpan.FromMilliseconds(300);
        var router = _host.System.ActorOf(SampleBatchRouter.Props(_host.Registry.Get<GovernorActors.ProfilerRegion>(), profilers.Ref,
            _ => elsewhere.Ref, refresh, TimeSpan.FromSeconds(5)));
        // Before the map and after it (one node: every shard is local, so each sample goes to this node's profilers).
        for (var tick = 0; tick < 3; tick++)
        {
            router.Tell(Batch(4, tick, 0.5));
            var got = Enumerable.Range(0, 4).Select(_ => profilers.ExpectMsg<Sample>(Wait)).ToList();
            Assert.Equal(Enumerable.Range(0, 4).Select(h => $"batch-host-{h}"), got.Select(s => s.Host));
            Assert.All(got, s => Assert.Equal(T0.AddSeconds(tick), s.At));
            if (tick == 0) await Task.Delay(refresh * 3); // the map is learnt and confirmed meanwhile (nothing to await: it changes no path here)
        }
        profilers.ExpectNoMsg(TimeSpan.FromMilliseconds(500));
        elsewhere.ExpectNoMsg(TimeSpan.Zero);
    }

    private static readonly string[] Hosts = ["batch-host-0", "batch-host-1", "batch-host-2"];
    private static readonly Address OtherNode = new("akka.tcp", "scarcity", "10.0.0.9", 4053);
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    private static SampleBatch Tick(int tick) => Batch(Hosts.Length, tick, 0.5);

    // A router whose first tick went through this node's gateway, and whose map then placed every host's shard on
    // OtherNode: returns it with the probe it sent down the old path for each host (the sender checked: the router).
    private (IActorRef Router, Akka.TestKit.TestProbe Local, Akka.TestKit.TestProbe Other, Dictionary<string, SamplePathProbe> Probes) Draining()
    {
        var region = _kit.CreateTestProbe();
        var local = _kit.CreateTestProbe();
        var other = _kit.CreateTestProbe();
        var router = _host.System.ActorOf(SampleBatchRouter.Props(region.Ref, local.Ref,
            address => address == OtherNode ? other.Ref : throw new InvalidOperationException($"no node {address} here"), TimeSpan.FromMilliseconds(300), DrainTimeout));
        var stats = new ClusterShardingStats(ImmutableDictionary<Address, ShardRegionStats>.Empty.Add(OtherNode,
            new ShardRegionStats(Hosts.Select(GovernorEntities.ShardOf).Distinct().ToImmutableDictionary(shard => shard, _ => 1), ImmutableHashSet<string>.Empty)));

        // No map yet (the region answers nothing until then): through this node's gateway.
        router.Tell(Tick(0));
        Assert.Equal(Hosts, Enumerable.Range(0, 3).Select(_ => local.ExpectMsg<Sample>(Wait).Host));
        // From now on every refresh says the shards live on the other node: once two agree, a probe per host goes down
        // the old path first.
        region.SetAutoPilot(new Akka.TestKit.DelegateAutoPilot((sender, message) =>
        {
            if (message is GetClusterShardingStats) sender.Tell(stats);
            return Akka.TestKit.AutoPilot.KeepRunning;
        }));
        var probes = new Dictionary<string, SamplePathProbe>();
        for (var i = 0; i < 3; i++)
        {
            var probe = local.ExpectMsg<SamplePathProbe>(Wait);
            Assert.Equal(router, local.LastSender);
            probes[probe.Host] = probe;
        }
        Assert.Equal(Hosts.Order(), probes.Keys.Order());
        return (router, local, other, probes);
    }

    [Fact]
    public void A_host_whose_shard_turns_out_to_live_on_another_node_changes_path_only_once_its_old_path_has_drained()
    {
        var (router, local, other, probes) = Draining();

        // Until the old path answers, the samples wait here: nothing overtakes what is still on it.
        router.Tell(Tick(1));
        other.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        local.ExpectNoMsg(TimeSpan.Zero);
        router.Tell(new SamplePathProbeAck("batch-host-0", probes["batch-host-0"].Id + 1000)); // not its probe: still held
        router.Tell(new SamplePathProbeAck("batch-host-0", probes["batch-host-0"].Id));
        router.Tell(new SamplePathProbeAck("batch-host-1", probes["batch-host-1"].Id));
        var released = Enumerable.Range(0, 2).SelectMany(_ => other.ExpectMsg<SampleBatch>(Wait).Samples).ToList();
        Assert.Equal(["batch-host-0", "batch-host-1"], released.Select(s => s.Host).Order());
        Assert.All(released, s => Assert.Equal(T0.AddSeconds(1), s.At));

        // Drained hosts go straight to the other node in one batch; the third is still held.
        router.Tell(Tick(2));
        var straight = other.ExpectMsg<SampleBatch>(Wait);
        Assert.Equal(["batch-host-0", "batch-host-1"], straight.Samples.Select(s => s.Host));
        Assert.All(straight.Samples, s => Assert.Equal(T0.AddSeconds(2), s.At));

        // An old path that never answers holds the host's samples no longer than the drain timeout: none lost, in order.
        var late = other.ExpectMsg<SampleBatch>(DrainTimeout * 3);
        Assert.Equal([T0.AddSeconds(1), T0.AddSeconds(2)], late.Samples.Select(s => s.At));
        Assert.All(late.Samples, s => Assert.Equal("batch-host-2", s.Host));
        local.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void A_host_holds_at_most_max_held_samples_while_its_old_path_drains()
    {
        var (router, _, other, _) = Draining();

        for (var tick = 1; tick < SampleBatchRouter.MaxHeldPerHost; tick++) router.Tell(Tick(tick));
        other.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        router.Tell(Tick(SampleBatchRouter.MaxHeldPerHost));

        // One more than the cap can hold: each host's samples go on, all of them, in their order, long before the timeout.
        var byHost = Enumerable.Range(0, 3).Select(_ => other.ExpectMsg<SampleBatch>(DrainTimeout / 2)).ToDictionary(b => b.Samples[0].Host);
        Assert.Equal(Hosts.Order(), byHost.Keys.Order());
        foreach (var batch in byHost.Values)
            Assert.Equal(Enumerable.Range(1, SampleBatchRouter.MaxHeldPerHost).Select(t => T0.AddSeconds(t)), batch.Samples.Select(s => s.At));
    }
    [Fact]
    public async Task A_host_profiler_answers_a_path_probe_sent_through_the_gateway_after_the_samples_before_it()
    {
        var probe = _kit.CreateTestProbe();
        _host.Profilers.Tell(new Sample("probed-host", T0, [new MetricValue(MetricNames.VramUtil, 0.3)], []));
        _host.Profilers.Tell(new SamplePathProbe("probed-host", 7), probe.Ref);

        var ack = probe.ExpectMsg<SamplePathProbeAck>(Wait);

        Assert.Equal(("probed-host", 7L), (ack.Host, ack.Id));
        await _kit.AwaitAssertAsync(async () =>
        {
            var view = await _host.Monitor.Ask<GovernorStatus>(GetGovernorStatus.Instance, Wait);
            Assert.Equal(0.3, view.Hosts["probed-host"].Metrics[MetricNames.VramUtil].Raw, 9);
        }, Wait);
    }
}
