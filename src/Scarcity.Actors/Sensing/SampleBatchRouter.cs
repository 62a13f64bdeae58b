using System.Collections.Immutable;
using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Event;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Sharding;

namespace Scarcity.Actors.Sensing;

/// <summary>
/// Issue 15: where one sensor node samples many hosts (the fleet driver), it sends the samples of one tick as one
/// <see cref="SampleBatch"/> per destination node, to that node's <c>/user/profilers</c>, which hands each sample to its
/// local host region, instead of one remote message per host. Which node holds a host's shard is learnt from the host
/// region (<see cref="GetClusterShardingStats"/>, refreshed every <see cref="RefreshInterval"/>); a sample of a shard not
/// in the map yet goes through the local <c>/user/profilers</c> as a single <see cref="Sample"/>, and one whose shard moved
/// after the last refresh takes one more hop from the node it reaches. Either way no sample is lost for a stale map.
/// A single-host sensor keeps sending one <see cref="Sample"/> (nothing to batch).
/// </summary>
/// <remarks>
/// Order: two paths to one profiler do not keep their order between them (the local path crosses this node's gateway,
/// region and the owner's region and shard; the batch goes straight to the owner's gateway), and the profiler rejects a
/// reading older than the last. So a shard's path changes only once two refreshes in a row agree on its node (not in
/// the middle of a hand-off), and then each host of it that was sampled before is drained first: a
/// <see cref="SamplePathProbe"/> goes down the old path to the host's profiler, the host's samples are held here until its
/// <see cref="SamplePathProbeAck"/> comes back (every sample ahead of the probe is through by then), and then go on
/// the new path in their order. An old path through a node downed or removed from the cluster is not drained
/// (nothing on it arrives anyway); a probe unanswered after <see cref="DrainTimeout"/> (a node unreachable, a shard stuck
/// moving) releases the held samples anyway, with a warning: a sample still on the old path is then rejected as out of
/// order, none is lost here. At most <see cref="MaxHeldPerHost"/> samples of a host are held.
/// </remarks>
public sealed class SampleBatchRouter : ReceiveActor, IWithTimers
{
    /// <summary>
    /// How often the shard-to-node map is asked for again. <value>10 s</value> (each refresh asks every region for the
    /// stats of every shard: at 2,000 hosts, refreshing every 3 s showed as shards too busy to answer during start-up).
    /// </summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a host's samples are held for the old path's <see cref="SamplePathProbeAck"/> before they go on the new path
    /// anyway. <value>5 s</value> (a path that took longer is stuck: a node gone, a shard still looking for its home).
    /// </summary>
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The most samples of one host held while its old path drains; one more releases them at once.
    /// <value>64</value> (16 s at 4 Hz: more than <see cref="DrainTimeout"/> at any sensor rate up to 12 Hz).
    /// </summary>
    public const int MaxHeldPerHost = 64;

    private sealed class Refresh : INoSerializationVerificationNeeded
    {
        public static readonly Refresh Instance = new();
    }

    private sealed class CheckDrains : INoSerializationVerificationNeeded
    {
        public static readonly CheckDrains Instance = new();
    }

    // NodeByShard null: the region did not answer in time.
    private sealed record Learnt(IReadOnlyDictionary<string, Address>? NodeByShard) : INoSerializationVerificationNeeded;

    // A host whose old path is draining: the probe's number, when it was sent (monotonic ticks), the samples held meanwhile.
    private sealed record Draining(long Probe, long Since, Address? OldPath, List<Sample> Held);

    private readonly IActorRef _region;
    private readonly IActorRef _localProfilers;
    private readonly Func<Address, ICanTell> _profilersAt;
    private readonly TimeSpan _refreshInterval;
    private readonly TimeSpan _drainTimeout;
    private readonly Akka.Cluster.Cluster _cluster;
    private readonly Address _self;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, Address> _nodeByShard = [];
    private IReadOnlyDictionary<string, Address> _lastSeen = new Dictionary<string, Address>();
    private readonly Dictionary<Address, ICanTell> _profilersOn = [];
    // The hosts sampled so far, by shard: the ones with samples that may still be on a shard's old path.
    private readonly Dictionary<string, HashSet<string>> _hostsByShard = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Draining> _draining = new(StringComparer.Ordinal);
    // Nodes downed or removed: a probe sent there is never answered.
    private readonly HashSet<Address> _gone = [];
    private long _probes;

    /// <summary>The timers (Akka sets them).</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props of the router.</summary>
    /// <param name="region">The host region (or its proxy) whose shard locations are learnt.</param>
    /// <param name="localProfilers">This node's <c>/user/profilers</c>: samples for this node's shards, and those of unknown shards.</param>
    public static Props Props(IActorRef region, IActorRef localProfilers) =>
        Akka.Actor.Props.Create(() => new SampleBatchRouter(region, localProfilers, null, RefreshInterval, DrainTimeout));

    // Specs: another node's /user/profilers as a test probe, and shorter intervals.
    internal static Props Props(IActorRef region, IActorRef localProfilers, Func<Address, ICanTell> profilersAt, TimeSpan refreshInterval, TimeSpan drainTimeout) =>
        Akka.Actor.Props.Create(() => new SampleBatchRouter(region, localProfilers, profilersAt, refreshInterval, drainTimeout));

    /// <summary>Creates the router (Akka does, from <see cref="Props(IActorRef, IActorRef)"/>).</summary>
    /// <param name="region">The host region (or its proxy).</param>
    /// <param name="localProfilers">This node's <c>/user/profilers</c>.</param>
    /// <param name="profilersAt">Another node's <c>/user/profilers</c> by its address; null: an actor selection of it.</param>
    /// <param name="refreshInterval">How often the shard map is asked for (<see cref="RefreshInterval"/>).</param>
    /// <param name="drainTimeout">How long samples wait for an old path to drain (<see cref="DrainTimeout"/>).</param>
    public SampleBatchRouter(IActorRef region, IActorRef localProfilers, Func<Address, ICanTell>? profilersAt, TimeSpan refreshInterval, TimeSpan drainTimeout)
    {
        _region = region;
        _localProfilers = localProfilers;
        _profilersAt = profilersAt ?? (address => Context.ActorSelection(new RootActorPath(address) / "user" / "profilers"));
        _refreshInterval = refreshInterval;
        _drainTimeout = drainTimeout;
        _cluster = Akka.Cluster.Cluster.Get(Context.System);
        _self = _cluster.SelfAddress;
        Receive<SampleBatch>(Route);
        Receive<Refresh>(_ =>
            _region.Ask<ClusterShardingStats>(new GetClusterShardingStats(_refreshInterval), _refreshInterval + _refreshInterval)
                .ContinueWith(t => new Learnt(t.IsCompletedSuccessfully
                    ? t.Result.Regions.SelectMany(r => r.Value.Stats.Keys.Select(shard => (shard, r.Key)))
                        .GroupBy(x => x.shard).ToDictionary(g => g.Key, g => g.First().Key)
                    : null), TaskScheduler.Default)
                .PipeTo(Self));
        Receive<Learnt>(Learn);
        Receive<SamplePathProbeAck>(ack =>
        {
            if (_draining.TryGetValue(ack.Host, out var draining) && draining.Probe == ack.Id) Release(ack.Host);
        });
        Receive<CheckDrains>(_ => ReleaseOverdue());
        Receive<ClusterEvent.MemberDowned>(m => Gone(m.Member.Address));
        Receive<ClusterEvent.MemberRemoved>(m => Gone(m.Member.Address));
        Receive<ClusterEvent.MemberUp>(m => _gone.Remove(m.Member.Address)); // back on the same address (a restart)
    }

    // The hosts draining through a node that is gone need not wait for its answer; the shards on it go through this
    // node's /user/profilers until the map names their new home (nothing on the gone node's path arrives anyway).
    private void Gone(Address node)
    {
        if (node == _self) return;
        _gone.Add(node);
        foreach (var host in _draining.Where(d => d.Value.OldPath == node).Select(d => d.Key).ToList()) Release(host);
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        Self.Tell(Refresh.Instance);
        Timers.StartPeriodicTimer("refresh", Refresh.Instance, _refreshInterval);
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberDowned), typeof(ClusterEvent.MemberRemoved));
    }

    /// <inheritdoc />
    protected override void PostStop() => _cluster.Unsubscribe(Self);

    // The node a shard's samples go to in a batch; null: through this node's /user/profilers.
    // A shard on a node downed or removed goes through this node's /user/profilers until the map names its new home: the
    // region there holds its samples for it, instead of a gateway that is gone.
    private Address? PathOf(string shard) =>
        _nodeByShard.TryGetValue(shard, out var node) && node != _self && _profilersOn.ContainsKey(node) && !_gone.Contains(node) ? node : null;

    private void Learn(Learnt learnt)
    {
        if (learnt.NodeByShard is null) return; // not answered this time: the map stays as it is until the next refresh
        var before = _hostsByShard.Keys.ToDictionary(shard => shard, PathOf, StringComparer.Ordinal);
        foreach (var (shard, node) in learnt.NodeByShard)
            if (_lastSeen.TryGetValue(shard, out var seen) && seen == node) _nodeByShard[shard] = node;
        _lastSeen = learnt.NodeByShard;
        foreach (var address in learnt.NodeByShard.Values.Distinct())
            if (address != _self && !_profilersOn.ContainsKey(address))
                _profilersOn[address] = _profilersAt(address);
        foreach (var (shard, oldPath) in before)
        {
            if (PathOf(shard) == oldPath) continue;
            foreach (var host in _hostsByShard[shard]) Drain(host, oldPath);
        }
        if (_draining.Count > 0 && !Timers.IsTimerActive("drains")) Timers.StartPeriodicTimer("drains", CheckDrains.Instance, _drainTimeout / 4);
        // Nodes no shard is agreed on any more need neither a selection nor a memory of being gone.
        var inUse = _nodeByShard.Values.Concat(_lastSeen.Values).ToHashSet();
        _gone.RemoveWhere(node => !inUse.Contains(node));
        foreach (var node in _profilersOn.Keys.Where(node => !inUse.Contains(node)).ToList()) _profilersOn.Remove(node);
    }

    // Sends the host's probe down the path its samples took so far and holds its samples until the answer.
    private void Drain(string host, Address? oldPath)
    {
        // Already draining: its probe still guards the path before; nothing went on the one in between (it was held).
        if (_draining.ContainsKey(host)) return;
        // A node no longer in the cluster (or downed) answers nothing, and what was on its path is lost anyway.
        if (oldPath is { } node && _gone.Contains(node)) return;
        var probe = new SamplePathProbe(host, ++_probes);
        _draining[host] = new Draining(probe.Id, Stopwatch.GetTimestamp(), oldPath, []);
        Tell(oldPath, probe, Self);
    }

    // To this node's /user/profilers (path null) or to the one on the path's node.
    private void Tell(Address? path, object message, IActorRef? sender)
    {
        if (path is null) _localProfilers.Tell(message, sender);
        else _profilersOn[path].Tell(message, sender);
    }

    // The host's held samples, in their order, on the path its shard has now.
    private void Release(string host)
    {
        if (!_draining.Remove(host, out var draining)) return;
        if (_draining.Count == 0) Timers.Cancel("drains");
        if (draining.Held.Count > 0) Tell(PathOf(GovernorEntities.ShardOf(host)), new SampleBatch([.. draining.Held]), ActorRefs.NoSender);
    }

    private void ReleaseOverdue()
    {
        var now = Stopwatch.GetTimestamp();
        var overdue = _draining.Where(d => Stopwatch.GetElapsedTime(d.Value.Since, now) >= _drainTimeout).Select(d => d.Key).ToList();
        if (overdue.Count == 0) return;
        _log.Warning("The old path of {0} host(s) ({1}) did not confirm it drained within {2:0.#} s (a node gone, a shard still moving?); " +
            "their samples go on the new path now, and one still on the old path will be rejected as out of order",
            overdue.Count, string.Join(", ", overdue.Take(5)) + (overdue.Count > 5 ? ", ..." : ""), _drainTimeout.TotalSeconds);
        foreach (var host in overdue) Release(host);
    }

    private void Route(SampleBatch batch)
    {
        Dictionary<Address, ImmutableArray<Sample>.Builder>? byNode = null;
        foreach (var sample in batch.Samples)
        {
            if (_draining.TryGetValue(sample.Host, out var draining))
            {
                draining.Held.Add(sample);
                if (draining.Held.Count >= MaxHeldPerHost)
                {
                    _log.Warning("Held {0} samples of host {1} waiting for its old path to drain; they go on the new path now", MaxHeldPerHost, sample.Host);
                    Release(sample.Host);
                }
                continue;
            }
            var shard = GovernorEntities.ShardOf(sample.Host);
            if (!_hostsByShard.TryGetValue(shard, out var hosts)) _hostsByShard[shard] = hosts = new HashSet<string>(StringComparer.Ordinal);
            hosts.Add(sample.Host);
            if (PathOf(shard) is not { } node)
            {
                _localProfilers.Tell(sample);
                continue;
            }
            byNode ??= [];
            if (!byNode.TryGetValue(node, out var samples)) byNode[node] = samples = ImmutableArray.CreateBuilder<Sample>();
            samples.Add(sample);
        }
        if (byNode is null) return;
        foreach (var (node, samples) in byNode) Tell(node, new SampleBatch(samples.ToImmutable()), ActorRefs.NoSender);
    }
}
