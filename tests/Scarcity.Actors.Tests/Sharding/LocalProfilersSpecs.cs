using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Sharding;
using Scarcity.Actors.Testing;
using Xunit;

namespace Scarcity.Actors.Tests.Sharding;

/// <summary>
/// Issue 15: a sample of a host whose profiler runs on the node goes to it straight, not through the region and its
/// shard, and never overtakes one still on its way through them.
/// </summary>
public sealed class LocalProfilersSpecs : IAsyncLifetime
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

    [Fact]
    public void An_entry_routes_through_the_region_until_the_profiler_handled_the_sample_last_sent_that_way()
    {
        var directory = new LocalProfilers();
        var profiler = _kit.CreateTestProbe();
        var region = _kit.CreateTestProbe();
        var entry = directory.Enter("h", profiler.Ref);
        void Send(int second) => directory.Send(Sample("h", 100 * second), ActorRefs.NoSender, region.Ref);
        DateTimeOffset Through(Akka.TestKit.TestProbe probe) => probe.ExpectMsg<Sample>(TimeSpan.FromSeconds(5)).At;

        // A sample the profiler handles that went through the region before the entry existed says nothing of the path.
        entry.Handled(T0);
        Send(1);
        Send(2);
        entry.Handled(T0.AddSeconds(1)); // the second one is still on its way
        Send(3);
        entry.Handled(T0.AddSeconds(2));
        Assert.False(directory.IsDirect("h"));
        entry.Handled(T0.AddSeconds(3)); // the one last sent through the region: the path is drained
        Assert.True(directory.IsDirect("h"));
        Send(4);
        Assert.Equal([T0.AddSeconds(1), T0.AddSeconds(2), T0.AddSeconds(3)], [Through(region), Through(region), Through(region)]);
        Assert.Equal(T0.AddSeconds(4), Through(profiler));
        directory.Send(Sample("another-host", 0), ActorRefs.NoSender, region.Ref);
        Assert.Equal(T0, Through(region));

        // Left (a hand-off): nothing goes straight any more.
        directory.Leave("h", entry);
        Send(5);
        Assert.Equal(T0.AddSeconds(5), Through(region));
        profiler.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_path_probe_goes_the_way_the_hosts_next_sample_would_and_does_not_count_as_a_sample()
    {
        var directory = new LocalProfilers();
        var profiler = _kit.CreateTestProbe();
        var region = _kit.CreateTestProbe();
        var sender = _kit.CreateTestProbe().Ref;
        void Probe(long id) => directory.Send(new SamplePathProbe("h", id), sender, region.Ref);
        SamplePathProbe Got(Akka.TestKit.TestProbe probe)
        {
            var got = probe.ExpectMsg<SamplePathProbe>(TimeSpan.FromSeconds(5));
            Assert.Equal(sender, probe.LastSender); // the profiler answers whoever sent the probe
            return got;
        }

        Probe(1); // no entry: through the region
        Assert.Equal(1, Got(region).Id);
        var entry = directory.Enter("h", profiler.Ref);
        directory.Send(Sample("h", 100), ActorRefs.NoSender, region.Ref);
        Probe(2); // the region's path is not drained yet: behind the sample, through the region
        Assert.Equal(T0.AddSeconds(1), region.ExpectMsg<Sample>(TimeSpan.FromSeconds(5)).At);
        Assert.Equal(2, Got(region).Id);
        entry.Handled(T0.AddSeconds(1)); // the probe left the pending mark alone: this sample was the last one sent that way
        Assert.True(directory.IsDirect("h"));
        Probe(3);
        Assert.Equal(3, Got(profiler).Id);
        directory.Leave("h", entry);
        Probe(4);
        Assert.Equal(4, Got(region).Id);
        profiler.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_clock_stepped_back_on_the_regions_path_does_not_turn_it_straight_early()
    {
        var directory = new LocalProfilers();
        var entry = directory.Enter("h", _kit.CreateTestProbe().Ref);
        var region = _kit.CreateTestProbe();

        directory.Send(Sample("h", 10_000), ActorRefs.NoSender, region.Ref);
        directory.Send(Sample("h", 300), ActorRefs.NoSender, region.Ref); // the host's clock stepped back
        entry.Handled(T0.AddSeconds(100)); // newer than the last one sent, but not it: t3 is still on its way
        Assert.False(directory.IsDirect("h"));
        entry.Handled(T0.AddSeconds(3));
        Assert.True(directory.IsDirect("h"));
    }

    [Fact]
    public void A_profiler_that_leaves_takes_only_its_own_entry_out()
    {
        var directory = new LocalProfilers();
        var old = directory.Enter("h", _kit.CreateTestProbe().Ref);
        var newer = directory.Enter("h", _kit.CreateTestProbe().Ref);

        directory.Leave("h", old); // the old incarnation's PostStop, after the new one entered
        Assert.True(directory.Contains("h"));
        directory.Leave("h", newer);
        Assert.False(directory.Contains("h"));
        Assert.Equal(0, directory.Count);
    }

    [Fact]
    public void Samples_sent_back_to_back_while_the_profiler_starts_are_all_profiled_in_order_and_then_go_straight()
    {
        const string host = "direct-host";
        var telemetry = _kit.CreateTestProbe();
        var mediator = DistributedPubSub.Get(_host.System).Mediator;
        mediator.Tell(new Subscribe(Topics.Telemetry, telemetry.Ref), telemetry.Ref);
        telemetry.ExpectMsg<SubscribeAck>(Wait);

        // The first starts the entity (remembered, then recovered) while the stream goes on back to back: those after it
        // queue in the gateway, the region and the shard meanwhile, and the gateway finds the profiler in the directory
        // with hundreds of them still on their way through the region.
        var directory = LocalProfilers.Get(_host.System);
        var samples = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!directory.Contains(host) && clock.Elapsed < Wait)
        {
            _host.Profilers.Tell(Sample(host, samples++));
            if (samples % 50 == 0) Thread.Sleep(1);
        }
        Assert.True(directory.Contains(host), $"the profiler did not start within {Wait.TotalSeconds:0} s");
        for (var k = 0; k < 500; k++) _host.Profilers.Tell(Sample(host, samples++));
        var last = Profiled(telemetry, host, samples);
        Assert.Equal(0, last.RejectedValues); // none overtook another: a reading older than the last is rejected
        Assert.Equal(T0.AddMilliseconds(10 * (samples - 1)), last.Profile.At);

        // At the latest, the first sample through the region after the profiler entered the directory drains that path.
        _host.Profilers.Tell(Sample(host, samples));
        _host.Profilers.Tell(Sample(host, samples + 1));
        Assert.Equal(0, Profiled(telemetry, host, samples + 2).RejectedValues);
        Assert.True(LocalProfilers.Get(_host.System).IsDirect(host), "the host's samples should go straight to its profiler by now");
    }

    // The host's sample of T0 + 10 ms * i.
    private static Sample Sample(string host, int i) =>
        new(host, T0.AddMilliseconds(10 * i), [new MetricValue(MetricNames.VramUtil, 0.5 + i * 1e-4)], []);

    // The host's telemetry once it has profiled `count` samples (or rejected a reading: the spec fails on it).
    private static TelemetryPublished Profiled(Akka.TestKit.TestProbe telemetry, string host, int count)
    {
        TelemetryPublished last;
        do last = telemetry.ExpectMsg<TelemetryPublished>(t => t.Profile.Host == host, Wait);
        while (last.SamplesProfiled < count && last.RejectedValues == 0);
        Assert.Equal(count, last.SamplesProfiled);
        return last;
    }
}
