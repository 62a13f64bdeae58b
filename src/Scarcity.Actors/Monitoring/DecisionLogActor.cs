using System.Collections.Immutable;
using Akka.Actor;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Monitoring;

/// <summary>
/// Keeps the newest decisions in memory for fast queries (<see cref="GetRecentDecisions"/>). The journal stays the
/// record: each actuator replays its decisions from it when it starts and hands the newest ones to this log.
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
        Receive<GetRecentDecisions>(q =>
        {
            IEnumerable<Decision> all = _decisions;
            if (q.Subsystem is not null) all = all.Where(d => d.Subsystem == q.Subsystem);
            Sender.Tell(new RecentDecisions([.. all.TakeLast(Math.Max(0, q.Count))]));
        });
    }

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
