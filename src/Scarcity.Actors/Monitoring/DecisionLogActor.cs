using System.Collections.Immutable;
using Akka.Actor;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Monitoring;

/// <summary>
/// Keeps the fleet's newest decisions in memory for fast queries (<see cref="GetRecentDecisions"/>), following
/// <c>drg.subsystems.digest</c> on the event bus (each governor node's decisions, batched per linger), so every node has
/// every node's decisions. The journal stays the record: each
/// actuator entity publishes the decisions it replays from it when it starts (after a restart or a failover).
/// </summary>
public sealed class DecisionLogActor : ReceiveActor
{
    private readonly int _capacity;
    private readonly List<Decision> _decisions = [];
    private readonly HashSet<(string Subsystem, long Sequence, DateTimeOffset At, string Action)> _seen = [];

    /// <summary>Props of the decision log keeping <paramref name="capacity"/> decisions.</summary>
    public static Props Props(int capacity) => Akka.Actor.Props.Create(() => new DecisionLogActor(capacity));

    /// <summary>Creates the log.</summary>
    public DecisionLogActor(int capacity)
    {
        _capacity = capacity;
        Receive<Decision>(Add);
        Receive<RecentDecisions>(recovered =>
        {
            foreach (var d in recovered.Decisions) Add(d);
        });
        Receive<SubsystemDigest>(digest =>
        {
            foreach (var d in digest.Decisions) Add(d);
        });
        Receive<Akka.Cluster.Tools.PublishSubscribe.SubscribeAck>(_ => { });
        Receive<GetRecentDecisions>(q =>
        {
            IEnumerable<Decision> all = _decisions;
            if (q.Subsystem is not null) all = all.Where(d => d.Subsystem == q.Subsystem);
            Sender.Tell(new RecentDecisions([.. all.TakeLast(Math.Max(0, q.Count))]));
        });
    }

    /// <inheritdoc />
    protected override void PreStart() =>
        Akka.Cluster.Tools.PublishSubscribe.DistributedPubSub.Get(Context.System).Mediator
            .Tell(new Akka.Cluster.Tools.PublishSubscribe.Subscribe(Topics.SubsystemDigest, Self));

    private void Add(Decision decision)
    {
        if (!_seen.Add((decision.Subsystem, decision.Sequence, decision.At, decision.Action))) return;
        // Recovered decisions can arrive after live ones: keep the log in time order.
        var index = _decisions.Count;
        while (index > 0 && _decisions[index - 1].At > decision.At) index--;
        _decisions.Insert(index, decision);
        if (_decisions.Count > _capacity)
        {
            var oldest = _decisions[0];
            _decisions.RemoveAt(0);
            _seen.Remove((oldest.Subsystem, oldest.Sequence, oldest.At, oldest.Action));
        }
    }
}
