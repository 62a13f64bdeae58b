using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Monitoring;
using Scarcity.Actors.Testing;
using Xunit;

namespace Scarcity.Actors.Tests.Monitoring;

/// <summary>
/// The fleet view follows each governor node's telemetry digest: every host profiled on the node reaches every view once
/// per view interval, in messages that stay within the transport's frame size, and an older profile never replaces a
/// newer one.
/// </summary>
public sealed class FleetViewSpecs : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private GovernorHost _host = null!;

    public async Task InitializeAsync()
    {
        var config = GovernorHost.SpecConfig();
        config.ViewInterval = TimeSpan.FromMilliseconds(200);
        _host = await GovernorHost.StartAsync(config);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _host.DeleteDatabase();
    }

    private static Sample TenSeries(string host, double seconds) =>
        new(host, T0.AddSeconds(seconds), [.. Enumerable.Range(0, 10).Select(i => new MetricValue($"gpu_util{{gpu=\"{i}\"}}", 0.1 * i))], []);

    [Fact]
    public async Task Forty_hosts_of_ten_series_arrive_in_digests_of_at_most_300_series_and_every_host_in_the_view()
    {
        var kit = new Akka.TestKit.Xunit2.TestKit(_host.System);
        var digests = kit.CreateTestProbe();
        DistributedPubSub.Get(_host.System).Mediator.Tell(new Subscribe(Topics.TelemetryDigest, digests.Ref), digests.Ref);
        digests.ExpectMsg<SubscribeAck>(Wait);
        var hosts = Enumerable.Range(0, 40).Select(i => $"gpu-{i:D2}").ToList();

        foreach (var host in hosts) _host.Profilers.Tell(TenSeries(host, 1));

        var seen = new Dictionary<string, TelemetryPublished>();
        var messages = new List<TelemetryDigest>();
        while (seen.Count < hosts.Count)
        {
            var digest = digests.ExpectMsg<TelemetryDigest>(Wait);
            messages.Add(digest);
            foreach (var t in digest.Hosts) seen[t.Profile.Host] = t;
        }
        Assert.Equal(hosts, seen.Keys.Order(StringComparer.Ordinal));
        Assert.All(messages, d => Assert.InRange(d.Hosts.Sum(t => t.Profile.Metrics.Count), 1, TelemetryDigestActor.MaxSeriesPerDigest));
        Assert.True(messages.Count >= 2, $"400 series need at least two digests, got {messages.Count}");
        Assert.All(seen.Values, t => Assert.Equal(1, t.SamplesProfiled));
        Assert.All(messages, d => Assert.Equal(Akka.Cluster.Cluster.Get(_host.System).SelfAddress.ToString(), d.Node));

        await kit.AwaitAssertAsync(async () =>
        {
            var view = await _host.Monitor.Ask<GovernorStatus>(GetGovernorStatus.Instance, Wait);
            Assert.True(hosts.All(view.Hosts.ContainsKey), $"{view.Hosts.Count} hosts in the view");
        }, Wait);
    }

    [Fact]
    public async Task An_older_profile_of_a_host_never_replaces_a_newer_one_in_the_view()
    {
        var kit = new Akka.TestKit.Xunit2.TestKit(_host.System);
        _host.Profilers.Tell(TenSeries("gpu-late", 5));
        await kit.AwaitAssertAsync(async () =>
        {
            var view = await _host.Monitor.Ask<GovernorStatus>(GetGovernorStatus.Instance, Wait);
            Assert.Equal(T0.AddSeconds(5), view.Hosts["gpu-late"].At);
        }, Wait);

        // e.g. the digest of a node that held the host's profiler before a failover, delivered late
        var older = new HostProfile("gpu-late", T0.AddSeconds(1), PressureLevel.Red, ImmutableDictionary<string, MetricEstimate>.Empty);
        _host.Monitor.Tell(new TelemetryDigest("akka.tcp://scarcity@127.0.0.1:1", T0, [new TelemetryPublished(older, 0, 1, 1)]));

        var after = await _host.Monitor.Ask<GovernorStatus>(GetGovernorStatus.Instance, Wait);
        Assert.Equal(T0.AddSeconds(5), after.Hosts["gpu-late"].At);
        Assert.Equal(10, after.Hosts["gpu-late"].Metrics.Count);
    }
}
