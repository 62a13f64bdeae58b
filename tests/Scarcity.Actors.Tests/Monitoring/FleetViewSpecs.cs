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
/// newer one. Its actuators' statuses and decisions reach every fleet view and decision log through the node's subsystem
/// digest: batched per linger, the newest status of each subsystem, every decision in order.
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
    private static SubsystemStatus Status(string subsystem, long sequence) =>
        new(subsystem, "gpu-01", 0, ImmutableDictionary<string, double>.Empty.Add("reduce_batch", 1.0 / sequence), sequence, sequence - 1, true, []);

    private static Decision Decided(string subsystem, long sequence) =>
        new(subsystem, "gpu-01", "reduce_batch", 1.0 / (sequence - 1), 1.0 / sequence, sequence, new ThrottleReason("vram", "vram_util", "forecast", 0.9, 0.95, 0.9),
            T0.AddSeconds(sequence), ImmutableDictionary<string, double>.Empty, true, "");

    // A probe on drg.subsystems.digest, subscribed, and the node's digest actor that the actuators hand their events to.
    private async Task<(Akka.TestKit.Xunit2.TestKit Kit, Akka.TestKit.TestProbe Digests, IActorRef Digest)> FollowSubsystemDigests()
    {
        var kit = new Akka.TestKit.Xunit2.TestKit(_host.System);
        var digests = kit.CreateTestProbe();
        DistributedPubSub.Get(_host.System).Mediator.Tell(new Subscribe(Topics.SubsystemDigest, digests.Ref), digests.Ref);
        digests.ExpectMsg<SubscribeAck>(Wait);
        return (kit, digests, await _host.System.ActorSelection("/user/telemetry-digest").ResolveOne(Wait));
    }

    [Fact]
    public async Task A_burst_of_statuses_and_decisions_leaves_as_one_digest_with_the_newest_status_of_each_subsystem_and_every_decision()
    {
        var (kit, digests, digest) = await FollowSubsystemDigests();

        // Ten subsystems, each a decision then its status at the decision and at the ack, within one linger.
        foreach (var sequence in new long[] { 2, 3 })
            for (var i = 0; i < 10; i++)
            {
                digest.Tell(Decided($"engine-{i}", sequence));
                digest.Tell(Status($"engine-{i}", sequence));
                digest.Tell(Status($"engine-{i}", sequence) with { LastAckedSequence = sequence });
            }

        var batch = digests.ExpectMsg<SubsystemDigest>(Wait);
        Assert.Equal(10, batch.Statuses.Length);
        Assert.All(batch.Statuses, s => Assert.Equal((3L, 3L), (s.LastSequence, s.LastAckedSequence)));
        Assert.Equal(20, batch.Decisions.Length);
        Assert.Equal([.. Enumerable.Range(0, 10).Select(i => ($"engine-{i}", 2L)), .. Enumerable.Range(0, 10).Select(i => ($"engine-{i}", 3L))],
            batch.Decisions.Select(d => (d.Subsystem, d.Sequence)));
        Assert.Equal(Akka.Cluster.Cluster.Get(_host.System).SelfAddress.ToString(), batch.Node);
        digests.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // one message for the 60 events

        await kit.AwaitAssertAsync(async () =>
        {
            var view = await _host.Monitor.Ask<GovernorStatus>(GetGovernorStatus.Instance, Wait);
            Assert.All(Enumerable.Range(0, 10), i => Assert.Equal(3L, view.Subsystems[$"engine-{i}"].LastAckedSequence));
            var log = await _host.DecisionLog.Ask<RecentDecisions>(new GetRecentDecisions(100), Wait);
            Assert.Equal(20, log.Decisions.Length);
        }, Wait);
    }

    [Fact]
    public async Task More_subsystem_events_than_one_message_holds_are_split_within_the_frame_and_none_is_lost()
    {
        var (_, digests, digest) = await FollowSubsystemDigests();
        // Statuses of about 2 kB each (twenty skipped rules), 300 kB in all: more than one frame of the transport.
        var skipped = Enumerable.Range(0, 20).Select(r => $"rule {r}: latency_ms ema > 500 -> throttle x0.8: metric 'latency_ms' is missing from this host").ToImmutableArray();
        const int subsystems = 150;
        for (var i = 0; i < subsystems; i++)
        {
            digest.Tell(Status($"engine-{i:D3}", 2) with { Skipped = skipped });
            digest.Tell(Decided($"engine-{i:D3}", 2));
        }

        var statuses = new List<SubsystemStatus>();
        var decisions = new List<Decision>();
        var serializer = _host.System.Serialization.FindSerializerForType(typeof(SubsystemDigest));
        while (statuses.Count < subsystems || decisions.Count < subsystems)
        {
            var batch = digests.ExpectMsg<SubsystemDigest>(Wait);
            Assert.InRange(batch.Statuses.Length + batch.Decisions.Length, 1, TelemetryDigestActor.MaxEventsPerDigest);
            Assert.InRange(serializer.ToBinary(batch).Length, 1, ScarcitySerialization.MaximumFrameSize / 2);
            statuses.AddRange(batch.Statuses);
            decisions.AddRange(batch.Decisions);
        }
        Assert.Equal(subsystems, statuses.Select(s => s.Name).Distinct().Count());
        Assert.All(statuses, s => Assert.Equal(20, s.Skipped.Length));
        Assert.Equal([.. Enumerable.Range(0, subsystems).Select(i => $"engine-{i:D3}")], decisions.Select(d => d.Subsystem));
    }
}
