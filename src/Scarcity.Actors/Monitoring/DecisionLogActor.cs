using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using Scarcity.Actors.Actuation;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Monitoring;

/// <summary>
/// Keeps the newest decisions in memory for fast queries (<see cref="GetRecentDecisions"/>). The journal stays the
/// record: at start the log reloads the newest decisions of every actuator from it, so a restart shows history too.
/// </summary>
public sealed class DecisionLogActor : ReceiveActor, IWithStash
{
    private sealed record Loaded(ImmutableArray<Decision> Decisions) : INoSerializationVerificationNeeded;

    private readonly int _capacity;
    private readonly bool _loadFromJournal;
    private readonly LinkedList<Decision> _decisions = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();

    /// <summary>Props of the decision log keeping <paramref name="capacity"/> decisions; <paramref name="loadFromJournal"/> reads the SQL journal at start.</summary>
    public static Props Props(int capacity, bool loadFromJournal) =>
        Akka.Actor.Props.Create(() => new DecisionLogActor(capacity, loadFromJournal));

    /// <inheritdoc />
    public IStash Stash { get; set; } = null!;

    /// <summary>Creates the log.</summary>
    public DecisionLogActor(int capacity, bool loadFromJournal)
    {
        _capacity = capacity;
        _loadFromJournal = loadFromJournal;
        if (loadFromJournal)
        {
            Receive<Loaded>(loaded =>
            {
                foreach (var d in loaded.Decisions.OrderBy(d => d.At)) Add(d);
                _log.Info("Decision log loaded {0} decisions from the journal", loaded.Decisions.Length);
                Become(Ready);
                Stash.UnstashAll();
            });
            Receive<Status.Failure>(f =>
            {
                _log.Warning("Could not read past decisions from the journal ({0}); the log starts empty", f.Cause.Message);
                Become(Ready);
                Stash.UnstashAll();
            });
            ReceiveAny(_ => Stash.Stash());
        }
        else
        {
            Ready();
        }
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        if (_loadFromJournal) LoadFromJournal();
    }

    private void LoadFromJournal()
    {
        IMaterializer materializer = Context.Materializer();
        var journal = PersistenceQuery.Get(Context.System).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier);
        var capacity = _capacity;
        journal.CurrentPersistenceIds()
            .Where(id => id.StartsWith(ActuatorActor.PersistenceIdFor(""), StringComparison.Ordinal))
            .SelectAsync(1, id => journal.CurrentEventsByPersistenceId(id, 0, long.MaxValue)
                .Where(e => e.Event is Decision).Select(e => (Decision)e.Event)
                .RunWith(Sink.Seq<Decision>(), materializer))
            .RunWith(Sink.Seq<IImmutableList<Decision>>(), materializer)
            .ContinueWith(t => t.IsCompletedSuccessfully
                ? (object)new Loaded([.. t.Result.SelectMany(x => x).OrderBy(d => d.At).TakeLast(capacity)])
                : new Status.Failure(t.Exception?.GetBaseException() ?? new TaskCanceledException()))
            .PipeTo(Self);
    }

    private void Ready()
    {
        Receive<Decision>(Add);
        Receive<GetRecentDecisions>(q =>
        {
            IEnumerable<Decision> all = _decisions;
            if (q.Subsystem is not null) all = all.Where(d => d.Subsystem == q.Subsystem);
            Sender.Tell(new RecentDecisions([.. all.TakeLast(Math.Max(0, q.Count))]));
        });
    }

    private void Add(Decision decision)
    {
        _decisions.AddLast(decision);
        while (_decisions.Count > _capacity) _decisions.RemoveFirst();
    }
}
