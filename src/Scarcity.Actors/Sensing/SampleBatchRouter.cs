using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Sharding;

namespace Scarcity.Actors.Sensing;

/// <summary>
/// Issue 15: where one sensor node samples many hosts (the fleet driver), it sends the samples of one tick as one
/// <see cref="SampleBatch"/> per destination node, to that node's <c>/user/profilers</c>, which hands each sample to its
/// local host region, instead of one remote message per host. Which node holds a host's shard is learnt from the host
/// region (<see cref="GetClusterShardingStats"/>, refreshed every <see cref="RefreshInterval"/>); a sample of a shard not
/// in the map yet goes through the local region as a single <see cref="Sample"/>, and one whose shard moved after the
/// last refresh takes one more hop from the node it reaches. Either way no sample is lost for a stale map. A shard's
/// path changes only once two refreshes in a row agree on its node: two paths to one profiler do not keep their order
/// (a sample still buffered on the old path, e.g. while sharding waits for the shard's home, would arrive after a newer
/// one and be rejected as out of order), so the old path is given a refresh interval to drain first.
/// A single-host sensor keeps sending one <see cref="Sample"/> (nothing to batch).
/// </summary>
public sealed class SampleBatchRouter : ReceiveActor, IWithTimers
{
    /// <summary>
    /// How often the shard-to-node map is asked for again. <value>10 s</value> (each refresh asks every region for the
    /// stats of every shard: at 2,000 hosts, refreshing every 3 s showed as shards too busy to answer during start-up).
    /// </summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(10);

    private sealed class Refresh : INoSerializationVerificationNeeded
    {
        public static readonly Refresh Instance = new();
    }

    // NodeByShard null: the region did not answer in time.
    private sealed record Learnt(IReadOnlyDictionary<string, Address>? NodeByShard) : INoSerializationVerificationNeeded;

    private readonly IActorRef _region;
    private readonly IActorRef _localProfilers;
    private readonly Address _self;
    private readonly Dictionary<string, Address> _nodeByShard = [];
    private IReadOnlyDictionary<string, Address> _lastSeen = new Dictionary<string, Address>();
    private readonly Dictionary<Address, ICanTell> _profilersOn = [];

    /// <summary>The timers (Akka sets them).</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props of the router.</summary>
    /// <param name="region">The host region (or its proxy) whose shard locations are learnt.</param>
    /// <param name="localProfilers">This node's <c>/user/profilers</c>: samples for this node's shards, and those of unknown shards.</param>
    public static Props Props(IActorRef region, IActorRef localProfilers) =>
        Akka.Actor.Props.Create(() => new SampleBatchRouter(region, localProfilers));

    /// <summary>Creates the router.</summary>
    public SampleBatchRouter(IActorRef region, IActorRef localProfilers)
    {
        _region = region;
        _localProfilers = localProfilers;
        _self = Akka.Cluster.Cluster.Get(Context.System).SelfAddress;
        Receive<SampleBatch>(Route);
        Receive<Refresh>(_ =>
            _region.Ask<ClusterShardingStats>(new GetClusterShardingStats(RefreshInterval), RefreshInterval + RefreshInterval)
                .ContinueWith(t => new Learnt(t.IsCompletedSuccessfully
                    ? t.Result.Regions.SelectMany(r => r.Value.Stats.Keys.Select(shard => (shard, r.Key)))
                        .GroupBy(x => x.shard).ToDictionary(g => g.Key, g => g.First().Key)
                    : null), TaskScheduler.Default)
                .PipeTo(Self));
        Receive<Learnt>(learnt =>
        {
            if (learnt.NodeByShard is null) return; // not answered this time: the map stays as it is until the next refresh
            foreach (var (shard, node) in learnt.NodeByShard)
                if (_lastSeen.TryGetValue(shard, out var before) && before == node) _nodeByShard[shard] = node;
            _lastSeen = learnt.NodeByShard;
            foreach (var address in learnt.NodeByShard.Values.Distinct())
                if (address != _self && !_profilersOn.ContainsKey(address))
                    _profilersOn[address] = Context.ActorSelection(new RootActorPath(address) / "user" / "profilers");
        });
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        Self.Tell(Refresh.Instance);
        Timers.StartPeriodicTimer("refresh", Refresh.Instance, RefreshInterval);
    }

    private void Route(SampleBatch batch)
    {
        Dictionary<Address, ImmutableArray<Sample>.Builder>? byNode = null;
        foreach (var sample in batch.Samples)
        {
            if (!_nodeByShard.TryGetValue(GovernorEntities.ShardOf(sample.Host), out var node) || node == _self || !_profilersOn.ContainsKey(node))
            {
                _localProfilers.Tell(sample);
                continue;
            }
            byNode ??= [];
            if (!byNode.TryGetValue(node, out var samples)) byNode[node] = samples = ImmutableArray.CreateBuilder<Sample>();
            samples.Add(sample);
        }
        if (byNode is null) return;
        foreach (var (node, samples) in byNode) _profilersOn[node].Tell(new SampleBatch(samples.ToImmutable()), ActorRefs.NoSender);
    }
}
