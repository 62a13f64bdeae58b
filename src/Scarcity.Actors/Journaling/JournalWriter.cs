using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Metrics;

namespace Scarcity.Actors.Journaling;

/// <summary>
/// Writes one entity's events and snapshots to the journal and snapshot store without ever stopping the entity: a child
/// of the entity, created once its recovery completed, that speaks the journal's protocol (<see cref="WriteMessages"/>,
/// <see cref="ReplayMessages"/>) itself, so a failed write is an answer it handles rather than Akka.Persistence's
/// <c>OnPersistFailure</c>, which stops a persistent actor. Events wait in a <see cref="JournalBacklog{T}"/> (bounded by
/// <see cref="PersistenceConfig.WriteBuffer"/>) and are written in order, one batch at a time; after a failure the next
/// attempt waits <see cref="PersistenceConfig.WriteRetryMin"/> doubling up to <see cref="PersistenceConfig.WriteRetryMax"/>,
/// and first asks the journal for its highest sequence number, so a batch that reached the database although its answer
/// was lost is not written twice. Errors are logged once per distinct error per <see cref="PersistenceConfig.ErrorLogInterval"/>.
/// The entity learns of each change of state through <see cref="WriterState"/> (sent to the parent). A handed-off actuator
/// waits for its writer to drain (<see cref="Actuation.ActuatorActor.StopWhenWritten"/>, at most
/// <see cref="Actuation.ActuatorActor.HandOffDrainTimeout"/>); what is still left when the entity stops cannot be written
/// and is counted as overflow.
/// </summary>
public sealed class JournalWriter : ReceiveActor, IWithTimers
{
    /// <summary>Write <paramref name="Event"/> after every event appended before it.</summary>
    /// <param name="Event">A persisted event of the entity (one of the serializer's manifests).</param>
    public sealed record Append(object Event) : INoSerializationVerificationNeeded;

    /// <summary>Save <paramref name="Snapshot"/> as of journal sequence number <paramref name="SequenceNr"/> (recovery replays what follows it).</summary>
    /// <param name="Snapshot">The entity's state.</param>
    /// <param name="SequenceNr">The journal sequence number it covers; null: the newest event appended so far.</param>
    public sealed record SaveSnapshotOf(object Snapshot, long? SequenceNr = null) : INoSerializationVerificationNeeded;

    /// <summary>
    /// What the writer tells its entity whenever it changes. How many events still wait is not in it: the entity counts
    /// that itself, from what it appended and the <see cref="Written"/> marks.
    /// </summary>
    /// <param name="Overflowed">Events dropped for room since the entity started.</param>
    /// <param name="Error">The last write error while writes fail; null once a write succeeded.</param>
    /// <param name="FailingSince">When writes started failing; null while they succeed.</param>
    public sealed record WriterState(long Overflowed, string? Error, DateTimeOffset? FailingSince) : INoSerializationVerificationNeeded
    {
        /// <summary>A writer that has dropped nothing and has no error.</summary>
        public static readonly WriterState Healthy = new(0, null, null);
    }

    /// <summary>Told to the entity: every event up to <paramref name="UpTo"/> (a journal sequence number) is in the journal.</summary>
    /// <param name="UpTo">The highest sequence number written; events are numbered in the order they were appended, from the entity's <c>LastSequenceNr</c> + 1.</param>
    public sealed record Written(long UpTo) : INoSerializationVerificationNeeded;

    /// <summary>
    /// Told to the entity when the snapshot store has answered for <paramref name="Snapshot"/> (the object handed in
    /// <see cref="SaveSnapshotOf"/>, compared by reference): <paramref name="Saved"/> false when the store failed it. A
    /// snapshot replaced by a newer one before its turn gets no answer; while the database is unreachable none does.
    /// </summary>
    public sealed record SnapshotWritten(object Snapshot, bool Saved) : INoSerializationVerificationNeeded;

    private sealed class RetryDue : INoSerializationVerificationNeeded
    {
        public static readonly RetryDue Instance = new();
    }

    private const int BatchSize = 100;

    private readonly string _persistenceId;
    private readonly string _entityType;
    private readonly PersistenceConfig _config;
    private readonly bool _deleteOlderSnapshots;
    private readonly JournalBacklog<object> _backlog;
    private readonly IActorRef _journal;
    private readonly IActorRef _snapshotStore;
    private readonly GovernorMetrics _metrics;
    private readonly PersistenceHealth _health;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _writerGuid = Guid.NewGuid().ToString();
    private readonly int _instanceId = Environment.TickCount;

    private int _replies;
    private long _batchLast;
    private bool _batchFailed;
    private Exception? _lastError;
    private Action? _timeWrite;
    private int _failures;
    private DateTimeOffset? _failingSince;
    private object? _pendingSnapshot;
    private long _snapshotSequenceNr;
    // The snapshot the store has not answered for yet; null while none is being saved.
    private object? _savingSnapshot;
    private WriterState _told = WriterState.Healthy;

    /// <summary>Props of the writer of <paramref name="persistenceId"/>, whose journal ends at <paramref name="lastSequenceNr"/>.</summary>
    /// <param name="persistenceId">The entity's persistence id.</param>
    /// <param name="lastSequenceNr">The entity's <c>LastSequenceNr</c> after its recovery.</param>
    /// <param name="entityType">The label of the metrics (<c>actuator</c>, <c>profiler</c>).</param>
    /// <param name="config">Buffer, retry and log settings; assumed valid.</param>
    /// <param name="deleteOlderSnapshots">Delete the older snapshots once a snapshot is saved.</param>
    public static Props Props(string persistenceId, long lastSequenceNr, string entityType, PersistenceConfig config, bool deleteOlderSnapshots) =>
        Akka.Actor.Props.Create(() => new JournalWriter(persistenceId, lastSequenceNr, entityType, config, deleteOlderSnapshots));

    /// <summary>Creates the writer; see <see cref="Props"/>.</summary>
    public JournalWriter(string persistenceId, long lastSequenceNr, string entityType, PersistenceConfig config, bool deleteOlderSnapshots)
    {
        _persistenceId = persistenceId;
        _entityType = entityType;
        _config = config;
        _deleteOlderSnapshots = deleteOlderSnapshots;
        _backlog = new JournalBacklog<object>(lastSequenceNr, config.WriteBuffer);
        var persistence = Akka.Persistence.Persistence.Instance.Apply(Context.System);
        _journal = persistence.JournalFor(null);
        _snapshotStore = persistence.SnapshotStoreFor(null);
        _metrics = GovernorMetrics.Get(Context.System);
        _health = PersistenceHealth.Get(Context.System);

        Receive<Append>(a =>
        {
            var (_, dropped) = _backlog.Append(a.Event);
            if (dropped > 0) Overflow(dropped);
            else AddWaiting(1);
            WriteNext();
        });
        Receive<SaveSnapshotOf>(s =>
        {
            _pendingSnapshot = s.Snapshot;
            _snapshotSequenceNr = Math.Min(s.SequenceNr ?? _backlog.LastSequenceNr, _backlog.LastSequenceNr);
            SaveNextSnapshot();
        });
        Receive<WriteMessagesSuccessful>(_ => { });
        Receive<WriteMessagesFailed>(f => _lastError = f.Cause);
        Receive<WriteMessageSuccess>(m => { if (m.ActorInstanceId == _instanceId) Replied(null, rejected: false); });
        Receive<WriteMessageRejected>(m => { if (m.ActorInstanceId == _instanceId) Replied(m.Cause, rejected: true); });
        Receive<WriteMessageFailure>(m => { if (m.ActorInstanceId == _instanceId) Replied(m.Cause, rejected: false); });
        Receive<RetryDue>(_ => Confirm());
        Receive<RecoverySuccess>(r =>
        {
            var already = _backlog.Confirm(r.HighestSequenceNr);
            if (already > 0)
            {
                AddWaiting(-already);
                Context.Parent.Tell(new Written(r.HighestSequenceNr), Self);
                _log.Info("{0}: {1} events were already in the journal (up to seq {2}); not written again", _persistenceId, already, r.HighestSequenceNr);
            }
            WriteNext();
        });
        Receive<ReplayMessagesFailure>(f => Failed(f.Cause));
        Receive<ReplayedMessage>(_ => { }); // none asked for (to = 0)
        Receive<SaveSnapshotSuccess>(s =>
        {
            if (_savingSnapshot is { } saved) Context.Parent.Tell(new SnapshotWritten(saved, true), Self);
            _savingSnapshot = null;
            if (_deleteOlderSnapshots && s.Metadata.SequenceNr > 1)
                _snapshotStore.Tell(new DeleteSnapshots(_persistenceId, new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)), Self);
            SaveNextSnapshot();
        });
        Receive<SaveSnapshotFailure>(f =>
        {
            if (_savingSnapshot is { } failed) Context.Parent.Tell(new SnapshotWritten(failed, false), Self);
            _savingSnapshot = null;
            _metrics.SnapshotFailures.WithLabels(_entityType).Inc();
            LogLimited("snapshot", f.Cause, $"snapshot of {_persistenceId} at seq {f.Metadata.SequenceNr} failed; the next one is taken as usual");
            SaveNextSnapshot();
        });
        Receive<DeleteSnapshotsSuccess>(_ => { });
        Receive<DeleteSnapshotsFailure>(_ => { });
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <inheritdoc />
    protected override void PostStop()
    {
        _health.Succeeding(_persistenceId);
        var waiting = _backlog.Count;
        if (waiting > 0)
        {
            AddWaiting(-waiting);
            _backlog.Abandon();
            _metrics.JournalOverflow.WithLabels(_entityType).Inc(waiting);
            _log.Warning("{0} stopped with {1} events not written to the journal (up to seq {2}); they are lost and counted in scarcity_journal_overflow_total",
                _persistenceId, waiting, _backlog.LastSequenceNr);
        }
        base.PostStop();
    }

    private DateTimeOffset Now => Context.System.Scheduler.Now;

    private void AddWaiting(long delta)
    {
        _metrics.JournalBacklog.WithLabels(_entityType).Inc(delta);
        _health.AddWaiting(delta);
    }

    private void WriteNext()
    {
        var batch = _backlog.TakeBatch(BatchSize);
        if (batch.Count == 0) return;
        _replies = 0;
        _batchFailed = false;
        _lastError = null;
        _timeWrite = _metrics.TimeJournalWrite(_entityType);
        _batchLast = batch[^1].SequenceNr;
        var writes = batch.Select(e => (IPersistentEnvelope)new AtomicWrite(
            new Persistent(e.Event, e.SequenceNr, _persistenceId, "", false, ActorRefs.NoSender, _writerGuid))).ToList();
        _journal.Tell(new WriteMessages(writes, Self, _instanceId), Self);
    }

    private void Replied(Exception? cause, bool rejected)
    {
        if (!_backlog.Writing) return;
        _replies++;
        if (cause is not null && rejected)
        {
            // The journal refused this event itself (it cannot be stored, e.g. serialisation): retrying cannot help.
            _metrics.JournalFailures.WithLabels(_entityType).Inc();
            LogLimited("rejected", cause, $"journal rejected an event of {_persistenceId}; it is skipped");
        }
        else if (cause is not null)
        {
            _batchFailed = true;
            _lastError = cause;
        }
        if (_replies < _backlog.BatchSize) return;
        if (_batchFailed)
        {
            _backlog.BatchFailed();
            Failed(_lastError!);
            return;
        }
        var written = _replies;
        _backlog.BatchWritten();
        _timeWrite?.Invoke();
        Context.Parent.Tell(new Written(_batchLast), Self);
        AddWaiting(-written);
        if (_failingSince is { } since)
        {
            _log.Info("{0}: the journal takes writes again after {1:0.#} s; {2} events still to write, {3} dropped for room",
                _persistenceId, (Now - since).TotalSeconds, _backlog.Count, _backlog.Overflowed);
            _failures = 0;
            _failingSince = null;
            _health.Succeeding(_persistenceId);
            SaveNextSnapshot();
        }
        TellState();
        WriteNext();
    }

    private void Failed(Exception cause)
    {
        _failures++;
        _failingSince ??= Now;
        _health.Failing(_persistenceId, $"{cause.GetType().Name}: {cause.Message}", Now);
        _metrics.JournalFailures.WithLabels(_entityType).Inc();
        var wait = TimeSpan.FromTicks(Math.Min(_config.WriteRetryMax.Ticks,
            _config.WriteRetryMin.Ticks * (1L << Math.Min(_failures - 1, 20))));
        LogLimited("write", cause, $"journal write of {_entityType} entities failed (e.g. {_persistenceId}: {_backlog.Count} events waiting, retrying every {wait.TotalSeconds:0.#} s up to {_config.WriteRetryMax.TotalSeconds:0.#} s); governing goes on");
        _lastError = cause;
        TellState();
        Timers.StartSingleTimer("retry", RetryDue.Instance, wait);
    }

    // Before writing again after a failure: which of the waiting events reached the journal anyway?
    private void Confirm()
    {
        if (_backlog.OldestSequenceNr is not { } oldest)
        {
            _backlog.Confirm(0);
            return;
        }
        _journal.Tell(new ReplayMessages(oldest, 0, 0, _persistenceId, Self), Self);
    }

    private void SaveNextSnapshot()
    {
        if (_savingSnapshot is not null || _pendingSnapshot is null || _failingSince is not null) return;
        var snapshot = _pendingSnapshot;
        _pendingSnapshot = null;
        _savingSnapshot = snapshot;
        _snapshotStore.Tell(new SaveSnapshot(new SnapshotMetadata(_persistenceId, _snapshotSequenceNr, Now.UtcDateTime), snapshot), Self);
    }

    private void Overflow(int dropped)
    {
        _metrics.JournalOverflow.WithLabels(_entityType).Inc(dropped);
        LogLimited("overflow", null, $"{_persistenceId}: write buffer full ({_backlog.Capacity} events, Scarcity:Persistence:WriteBuffer); the oldest unwritten event was dropped ({_backlog.Overflowed} so far)");
        TellState();
    }

    private void TellState()
    {
        var state = new WriterState(_backlog.Overflowed, _failingSince is null ? null : _lastError?.Message, _failingSince);
        if (state == _told) return;
        _told = state;
        Context.Parent.Tell(state, Self);
    }

    private void LogLimited(string kind, Exception? cause, string text)
    {
        var key = $"{kind}|{cause?.GetType().Name}|{cause?.Message}";
        if (!_health.ShouldLog(_entityType + key, _config.ErrorLogInterval, Now, out var suppressed)) return;
        var repeats = suppressed > 0 ? $" ({suppressed} more like it since the last such line)" : "";
        if (cause is null) _log.Warning("{0}{1}", text, repeats);
        else _log.Warning("{0}: {1}: {2}{3}", text, cause.GetType().Name, cause.Message, repeats);
    }
}
