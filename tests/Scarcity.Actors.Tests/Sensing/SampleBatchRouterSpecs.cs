using Akka.Actor;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Sensing;
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
        var router = _host.System.ActorOf(SampleBatchRouter.Props(_host.Registry.Get<GovernorActors.ProfilerRegion>(), profilers.Ref));
        // Before the map and after it (one node: every shard is local, so each sample goes to this node's profilers).
        for (var tick = 0; tick < 3; tick++)
        {
            router.Tell(Batch(4, tick, 0.5));
            var got = Enumerable.Range(0, 4).Select(_ => profilers.ExpectMsg<Sample>(Wait)).ToList();
            Assert.Equal(Enumerable.Range(0, 4).Select(h => $"batch-host-{h}"), got.Select(s => s.Host));
            Assert.All(got, s => Assert.Equal(T0.AddSeconds(tick), s.At));
            if (tick == 0) await Task.Delay(SampleBatchRouter.RefreshInterval * 2.5); // the map is learnt and confirmed meanwhile
        }
        profilers.ExpectNoMsg(TimeSpan.FromMilliseconds(500));
    }
}
