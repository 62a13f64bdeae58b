using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Cluster.Tools.PublishSubscribe;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.FleetBench;

/// <summary>
/// <c>--probe</c>: once a second prints one <c>PROBE</c> line of what the governor nodes expose about the fleet, for
/// scripts/bench-cluster.sh's start-up mode (<c>BENCH_STARTUP</c>) to decide when the cluster is in steady state:
/// <list type="bullet">
/// <item><c>entities</c>, <c>shards</c>, <c>regions</c>: the host region's entities (profilers and actuators), shards and
/// governor regions as <see cref="GetClusterShardingStats"/> reports them (-1: not answered within 3 s, e.g. while the
/// coordinator moves; <c>failed_shards</c>: shards that did not answer);</item>
/// <item><c>hosts_seen</c>: hosts ever seen in a <see cref="TelemetryDigest"/>; <c>hosts_fresh</c>: those whose newest
/// profile arrived in the last <c>2 x interval</c> seconds and is not stale (some series fresh), measured
/// on the probe's clock; <c>hosts_stale</c>: seen hosts that are not fresh;</item>
/// <item><c>decisions</c>, <c>decision_max_ms</c>: decisions published in the last second and the largest
/// sample-to-decision latency among them.</item>
/// </list>
/// </summary>
internal sealed class StartupProbe : ReceiveActor, IWithTimers
{
    private static readonly TimeSpan StatsTimeout = TimeSpan.FromSeconds(3);

    private sealed class Tick : INoSerializationVerificationNeeded
    {
        public static readonly Tick Instance = new();
    }

    private sealed record Stats(int Regions, int Shards, int Entities, int FailedShards) : INoSerializationVerificationNeeded;

    private readonly Dictionary<string, (DateTimeOffset ReceivedAt, bool Stale)> _hosts = new(StringComparer.Ordinal);
    private readonly IActorRef _region;
    private readonly TimeSpan _freshWithin;
    private Stats _stats = new(-1, -1, -1, 0);
    private bool _asking;
    private int _decisions;
    private double _decisionMaxMs;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef region, TimeSpan viewInterval) => Akka.Actor.Props.Create(() => new StartupProbe(region, viewInterval));

    public StartupProbe(IActorRef region, TimeSpan viewInterval)
    {
        _region = region;
        _freshWithin = viewInterval + viewInterval;
        Receive<SubscribeAck>(_ => { });
        Receive<TelemetryDigest>(d =>
        {
            var now = Context.System.Scheduler.Now;
            foreach (var t in d.Hosts)
                _hosts[t.Profile.Host] = (now, t.Profile.Metrics.Count > 0 && t.Profile.Metrics.Values.All(m => m.Stale));
        });
        Receive<Decision>(d =>
        {
            _decisions++;
            _decisionMaxMs = Math.Max(_decisionMaxMs, (Context.System.Scheduler.Now - d.At).TotalMilliseconds);
        });
        Receive<Stats>(s =>
        {
            _stats = s;
            _asking = false;
        });
        Receive<Tick>(_ => Print());
        var mediator = DistributedPubSub.Get(Context.System).Mediator;
        mediator.Tell(new Subscribe(Topics.TelemetryDigest, Self));
        mediator.Tell(new Subscribe(Topics.Decisions, Self));
    }

    protected override void PreStart() => Timers.StartPeriodicTimer("tick", Tick.Instance, TimeSpan.FromSeconds(1));

    private void Print()
    {
        var now = Context.System.Scheduler.Now;
        var fresh = _hosts.Values.Count(h => !h.Stale && now - h.ReceivedAt <= _freshWithin);
        var s = _stats;
        Console.WriteLine(
            $"PROBE t_ms={now.ToUnixTimeMilliseconds()} regions={s.Regions} shards={s.Shards} entities={s.Entities} failed_shards={s.FailedShards} " +
            $"hosts_seen={_hosts.Count} hosts_fresh={fresh} hosts_stale={_hosts.Count - fresh} decisions={_decisions} decision_max_ms={_decisionMaxMs:0}");
        _decisions = 0;
        _decisionMaxMs = 0;
        if (_asking) return; // the previous question is still open: its answer (or its failure, -1) comes first
        _asking = true;
        _stats = new Stats(-1, -1, -1, 0);
        _region.Ask<ClusterShardingStats>(new GetClusterShardingStats(StatsTimeout), StatsTimeout + TimeSpan.FromSeconds(1))
            .ContinueWith(t => t.IsCompletedSuccessfully
                ? new Stats(t.Result.Regions.Count, t.Result.Regions.Values.Sum(r => r.Stats.Count), t.Result.Regions.Values.Sum(r => r.Stats.Values.Sum()),
                    t.Result.Regions.Values.Sum(r => r.Failed.Count))
                : new Stats(-1, -1, -1, 0), TaskScheduler.Default)
            .PipeTo(Self);
    }
}
