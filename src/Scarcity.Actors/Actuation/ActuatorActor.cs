using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Akka.Hosting.Logging;
using Akka.Persistence;
using Microsoft.Extensions.Logging;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Metrics;
using Scarcity.Actors.Journaling;
using Scarcity.Actors.Sharding;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Profiling;

namespace Scarcity.Actors.Actuation;

/// <summary>
/// One per subsystem. Runs the subsystem's <see cref="SubsystemPolicy"/> on every profile of its host, persists each
/// decision with its inputs (the journal is the decision log), sends the Throttle, retries it with backoff until
/// acknowledged, and drops a pending Throttle that a newer one for the same action supersedes. The rules live in plain
/// classes of the core: <see cref="RegistrationArbitration"/> decides who holds the name, <see cref="ThrottleDelivery"/>
/// what is pending, when it is due again and when the subsystem turned silent; this actor receives, persists, sends,
/// runs the retry timer (every AckTimeout / 4, at least 50 ms, while a Throttle waits for its ack) and DeathWatches the holder.
/// </summary>
public sealed partial class ActuatorActor : ReceivePersistentActor
{
    private sealed class RetryTick : INoSerializationVerificationNeeded
    {
        public static readonly RetryTick Instance = new();
    }

    private sealed record HolderProbeTimeout(long Probe) : INoSerializationVerificationNeeded;

    /// <summary>Evaluate the newest profile offered (<see cref="LatestProfile"/>), at the end of the catch-up window.</summary>
    private sealed class EvaluateLatest : INoSerializationVerificationNeeded
    {
        public static readonly EvaluateLatest Instance = new();
    }

    private static readonly TimeSpan HolderProbeWait = TimeSpan.FromSeconds(2);

    private readonly string _subsystem;
    private readonly HashSet<string> _refusedAckOrigins = new(StringComparer.Ordinal);
    private readonly ActuatorConfig _config;
    private readonly IActorRef _profilers;
    private SubsystemPolicy _policy;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    // Decisions go to Microsoft.Extensions.Logging directly where the host configured it, so that Host, Subsystem,
    // Action and Sequence arrive as structured fields (Akka's adapter hands the logger factory a formatted string).
    private readonly ILogger? _decisionLog = Context.System.Settings.Setup.Get<LoggerFactorySetup>() is { HasValue: true } setup
        ? setup.Value.LoggerFactory.CreateLogger<ActuatorActor>()
        : null;
    private readonly GovernorMetrics _metrics = GovernorMetrics.Get(Context.System);
    private readonly IActorRef? _recorder = Recording.TelemetryRecording.RecorderOf(Context.System); // null: recording off
    private readonly ThrottleDelivery _delivery;
    private readonly IActorRef _mediator;
    private readonly IActorRef? _events;
    private const int RecoveredToLog = 100;
    private readonly Queue<Decision> _recovered = new();
    private readonly LatestProfile _latest = new();
    private bool _catchingUp;

    private long _sequence;
    private RegisterSubsystem? _registration;
    private bool _accepted; // a registration was accepted by this incarnation (not only recovered)
    private bool _reachable;
    private string _host = "";
    private long _decisionsSinceSnapshot;
    private ICancelable? _retryTimer;
    private long _holderProbe;
    private bool _holderAnswered;
    private bool _probing;
    // Journal writes go through a child that survives an unreachable database (see JournalWriter); with
    // PersistBeforeSend, decisions wait in _held for their write while the journal takes writes.
    private readonly PersistenceConfig _persistence;
    private IActorRef _writer = ActorRefs.Nobody;
    private long _journalSequenceNr;
    // The last of this entity's events the writer has confirmed in the journal: what is above it and up to
    // _journalSequenceNr is still in the writer's hands (its own WriterState is told only on larger moves).
    private long _journalWrittenUpTo;
    private JournalWriter.WriterState _journal = JournalWriter.WriterState.Healthy;
    private readonly Queue<(long JournalSequenceNr, Decision Decision)> _held = new();
    private bool _stopping;
    private ICancelable? _drainTimer;
    private ICancelable? _catchUpTimer;

    /// <summary>After a resume, how long profiles coalesce before the newest is evaluated (one sampling interval).</summary>
    public static readonly TimeSpan CatchUpWindow = TimeSpan.FromMilliseconds(250);

    /// <summary>The longest a handed-off actuator waits for its unwritten decisions before it stops anyway (they are then counted as overflow).</summary>
    public static readonly TimeSpan HandOffDrainTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Sharding's hand-off stop message of actuator entities: the entity stops once every decision it took is in the
    /// journal, or after <see cref="HandOffDrainTimeout"/> when the journal does not take writes, so a rebalance, a
    /// leaving node or a shutdown does not drop the decisions still in its write buffer.
    /// </summary>
    public sealed class StopWhenWritten : INoSerializationVerificationNeeded
    {
        /// <summary>The one instance.</summary>
        public static readonly StopWhenWritten Instance = new();

        private StopWhenWritten()
        {
        }
    }

    private sealed class DrainTimedOut : INoSerializationVerificationNeeded
    {
        public static readonly DrainTimedOut Instance = new();
    }

    /// <summary>
    /// Props of the actuator entity of <paramref name="subsystem"/>; <paramref name="profilers"/> is the profiler shard
    /// region; <paramref name="persistence"/> bounds and paces its journal writes (the defaults when null);
    /// <paramref name="entityHost"/> the host of its entity in the host region (<see cref="GovernorEntities.HostType"/>),
    /// null outside it; <paramref name="events"/> this node's <see cref="Monitoring.TelemetryDigestActor"/>, which batches its
    /// statuses and decisions into the node's <see cref="SubsystemDigest"/> (null: it publishes a digest of its own per event).
    /// </summary>
    public static Props Props(string subsystem, PolicyConfig policy, ActuatorConfig config, IActorRef profilers, PersistenceConfig? persistence = null,
        string? entityHost = null, IActorRef? events = null) =>
        Akka.Actor.Props.Create(() => new ActuatorActor(subsystem, policy, config, profilers, persistence, entityHost, events));

    /// <summary>The persistence id of a subsystem's actuator; stable, so a restart or failover finds its journal.</summary>
    public static string PersistenceIdFor(string subsystem) => "actuator-" + subsystem;

    /// <summary>Creates the actuator.</summary>
    public ActuatorActor(string subsystem, PolicyConfig policy, ActuatorConfig config, IActorRef profilers, PersistenceConfig? persistence = null,
        string? entityHost = null, IActorRef? events = null)
    {
        _events = events;
        _subsystem = subsystem;
        _entityHost = entityHost;
        _persistence = persistence ?? new PersistenceConfig();
        _config = config;
        _profilers = profilers;
        _policy = InitialPolicy(subsystem, policy); // the node's current policy version (ActuatorActor.Versions.cs)
        _delivery = new ThrottleDelivery(config);
        _mediator = DistributedPubSub.Get(Context.System).Mediator;
        ArbitrateWithPeers(policy);

        Recover<Decision>(ApplyRecovered); // a decision.v1 row, however old
        Recover<PersistedDecision>(p => ApplyRecovered(p.Decision)); // a journal that keeps objects (in-memory)
        Recover<ApplyBudgetCap>(RecoverBudgetCap);
        Recover<RegisterSubsystem>(r =>
        {
            _registration = r;
            _host = r.Host;
            _policy.SetLatencyObjective(r.LatencyObjectiveMs);
        });
        Recover<RecoveryCompleted>(_ =>
        {
            _journalSequenceNr = LastSequenceNr;
            _journalWrittenUpTo = LastSequenceNr;
            PersistenceHealth.Get(Context.System).Succeeding(PersistenceId);
            _writer = Context.ActorOf(JournalWriter.Props(PersistenceId, LastSequenceNr, GovernorEntities.ActuatorType, _persistence, deleteOlderSnapshots: true), "journal");
            if (_recovered.Count > 0)
            {
                var recovered = new RecentDecisions([.. _recovered]);
                _mediator.Tell(new Publish(Topics.Decisions, recovered));
                ToDigest(recovered);
            }
            _recovered.Clear();
            if (_registration is null || RefusedAsMoved()) return;
            RecordPlacement();
            // Resumed (a restart or a failover): govern the subsystem we knew until it proves dead, deciding on the newest
            // of the profiles that queued up meanwhile, not on each of them.
            _reachable = true;
            _catchingUp = true;
            Context.Watch(_registration.Ref);
            _profilers.Tell(new AttachSubsystem(_registration.Host, _subsystem, ProfilerActor.HolderPathOf(_registration.Ref, Context.System)));
            _log.Info($"Actuator of {_subsystem} resumed at seq {_sequence}, levels {string.Join(", ", _policy.Levels.Select(l => $"{l.Key}={l.Value:0.###}"))}");
            PublishStatus();
        });
        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is not ActuatorSnapshot snapshot) return;
            _sequence = snapshot.Sequence;
            if (snapshot.Registration is { } registration)
            {
                _registration = registration;
                _host = registration.Host;
                _policy.SetLatencyObjective(registration.LatencyObjectiveMs);
            }
            if (snapshot.Model is { } model) _policy.RestoreLearned(model);
            RecoverBudgetCaps(snapshot.BudgetCaps);
            foreach (var (action, level) in snapshot.Levels)
                _policy.Restore(action, new ActionState(level, snapshot.LastChanges.TryGetValue(action, out var at) ? at : null));
            foreach (var (action, level) in snapshot.DryLevels ?? ImmutableDictionary<string, double>.Empty)
                _dryPolicy?.Restore(action, new ActionState(level, null));
        });

        Command<RegisterSubsystem>(Register);
        Command<PolicyChanged>(c => AdoptPolicy(c.Policy));
        Command<HostProfile>(Offer);
        Command<EvaluateProfile>(e => Offer(e.Profile));
        Command<EvaluateLatest>(_ =>
        {
            _catchingUp = false; // the backlog delivered with the resume is through
            if (_latest.Take() is { } profile) Evaluate(profile);
        });
        Command<ThrottleAck>(Acknowledge);
        Command<ApplyBudgetCap>(OnBudgetCap);
        Command<RetryTick>(_ => Retry());
        Command<Terminated>(t =>
        {
            if (_registration is null || !t.ActorRef.Equals(_registration.Ref)) return;
            _reachable = false;
            PublishStatus();
            _log.Warning("Subsystem {0} on {1} died ({2}); it is marked down and gets the current levels when it registers again",
                _subsystem, _host, t.ActorRef.Path);
        });
        Command<GetSubsystemStatus>(_ => Sender.Tell(Status()));
        Command<ActorIdentity>(identity =>
        {
            if (identity.MessageId is not long probe || probe != _holderProbe) return;
            _holderAnswered = true;
            _probing = false;
            if (identity.Subject is null) HolderGone("it no longer exists");
        });
        Command<HolderProbeTimeout>(timeout =>
        {
            if (timeout.Probe != _holderProbe) return;
            _probing = false;
            if (!_holderAnswered) HolderGone($"it did not answer within {HolderProbeWait.TotalSeconds:0} s");
        });
        Command<JournalWriter.Written>(w =>
        {
            _journalWrittenUpTo = Math.Max(_journalWrittenUpTo, w.UpTo);
            ReleaseHeld(w.UpTo);
            if (_stopping && Unjournaled == 0) Context.Stop(Self);
        });
        Command<JournalWriter.SnapshotWritten>(_ => { });
        Command<JournalWriter.WriterState>(state =>
        {
            var changed = (state.Error is null) != (_journal.Error is null) || state.Overflowed != _journal.Overflowed;
            _journal = state;
            if (state.Error is not null) ReleaseHeld(long.MaxValue); // the database is down: govern without waiting for it
            if (changed) PublishStatus();
        });
        Command<StopWhenWritten>(_ =>
        {
            if (Unjournaled == 0)
            {
                Context.Stop(Self);
                return;
            }
            _stopping = true;
            _drainTimer = Context.System.Scheduler.ScheduleTellOnceCancelable(HandOffDrainTimeout, Self, DrainTimedOut.Instance, Self);
        });
        Command<DrainTimedOut>(_ => Context.Stop(Self));
        PlacementCommands();
    }

    /// <inheritdoc />
    public override string PersistenceId => PersistenceIdFor(_subsystem);

    /// <inheritdoc />
    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        // The entity stops (Akka.Persistence) and sharding starts it again after its entity-restart-backoff, when the
        // recovery is tried again: one line per distinct error per interval on this node, not one per entity per attempt.
        _metrics.RecoveryFailures.WithLabels(GovernorEntities.ActuatorType).Inc();
        var health = PersistenceHealth.Get(Context.System);
        health.Failing(PersistenceId, $"recovery: {reason.GetType().Name}: {reason.Message}", Now);
        if (health.ShouldLog("recovery|actuator|" + reason.GetType().Name + reason.Message, _persistence.ErrorLogInterval, Now, out var suppressed))
            _log.Warning("Recovery of {0} failed ({1}: {2}){3}; the entity stops and sharding restarts it, recovering again, until the database answers",
                PersistenceId, reason.GetType().Name, reason.Message, suppressed > 0 ? $" ({suppressed} more like it since the last such line)" : "");
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        base.PreStart();
        Context.System.EventStream.Subscribe(Self, typeof(PolicyChanged));
    }

    // The retry tick runs only while a Throttle waits for its ack (armed by Act, stopped by the first tick that finds
    // nothing pending): an actuator whose subsystem acks costs no timer message between decisions (issue 15: four
    // ticks a second per actuator were about one thread-pool work item in ten per host-sample on a fleet's governors).
    private void ArmRetry()
    {
        if (_retryTimer is not null) return;
        _retryTimer = Context.System.Scheduler.ScheduleTellRepeatedlyCancelable(
            _config.AckTimeout, TimeSpan.FromMilliseconds(Math.Max(50, _config.AckTimeout.TotalMilliseconds / 4)),
            Self, RetryTick.Instance, Self);
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        _retryTimer?.Cancel();
        _drainTimer?.Cancel();
        _catchUpTimer?.Cancel();
        ForwardMoved();
        base.PostStop();
    }

    private void ApplyRecovered(Decision decision)
    {
        _recovered.Enqueue(decision);
        if (_recovered.Count > RecoveredToLog) _recovered.Dequeue();
        _sequence = Math.Max(_sequence, decision.Sequence);
        _host = decision.Host;
        if (decision.Dry) _dryPolicy?.Restore(decision.Action, new ActionState(decision.Level, decision.At)); // the dry levels apart
        else if (!IsBudgetDecision(decision)) _policy.Restore(decision.Action, new ActionState(decision.Level, decision.At));
    }

    private DateTimeOffset Now => Context.System.Scheduler.Now;

    private void Register(RegisterSubsystem register)
    {
        var previous = _registration;
        switch (RegistrationArbitration.Decide(previous is null ? null : Claim(previous), _reachable, Claim(register)))
        {
            case RegistrationVerdict.Rejected:
                var reason = $"subsystem '{register.Name}' is already registered by {previous!.Ref.Path} (host {previous.Host}), which is alive";
                _log.Warning("Rejected registration from {0}: {1}", register.Ref.Path, reason);
                register.Ref.Tell(new RegistrationRejected(register.Name, reason));
                ProbeHolder();
                break;
            case RegistrationVerdict.Renewed:
                Accept(previous, register, renewed: true);
                break;
            default:
                WriteToJournal(register);
                Accept(previous, register, renewed: false);
                break;
        }
    }

    private static SubsystemClaim Claim(RegisterSubsystem r) => new(r.Ref.Path.ToString(), r.Ref.Path.Uid, r.Host, r.Priority, r.Actions);

    private void Accept(RegisterSubsystem? previous, RegisterSubsystem register, bool renewed)
    {
        if (MovesAway(previous, register)) return;
        // The same registration again from a process this incarnation accepted and still takes as alive (a retry that
        // crossed the reply, or one of the retries that queued up while the shard started): answered as any, logged once.
        var retry = renewed && _accepted && _reachable; // renewed: the same holder, host, priority and actions
        if (previous is not null && !previous.Ref.Equals(register.Ref)) Context.Unwatch(previous.Ref);
        if (previous is not null && previous.Host != register.Host)
        {
            _profilers.Tell(new DetachSubsystem(previous.Host, _subsystem));
            _latest.Reset(); // another host's profiles, on another clock
        }
        _registration = register;
        _host = register.Host;
        _reachable = true;
        RecordPlacement();
        // Issue 11: its latency objective, and a registration as a start (one with no report since the last is a crash).
        _policy.SetLatencyObjective(register.LatencyObjectiveMs);
        _policy.SetDeclaredReports(register.Reports);
        if (previous is null || !previous.Ref.Equals(register.Ref)) _recorder?.Tell(TelemetryRecord.Of(register, Now));
        // A restart after a crash is cut to the hard limit at once: the reply below carries the level that fits, journalled first.
        var atRegistration = previous is null || !previous.Ref.Equals(register.Ref)
            ? ClampToBudgetCaps(_policy.Registered(Now)).Select(c => Decided(c, register.Host, Now)).ToList()
            : [];
        _delivery.Restart(acknowledgedUpTo: _sequence); // the registration reply carries every current level
        Context.Watch(register.Ref);
        _profilers.Tell(new AttachSubsystem(register.Host, _subsystem, ProfilerActor.HolderPathOf(register.Ref, Context.System)));

        var levels = register.Actions.ToImmutableDictionary(a => a, _ => 1.0, StringComparer.Ordinal)
            .SetItems(WithBudgetCaps(_policy.Levels).Where(l => register.Actions.Contains(l.Key)));
        register.Ref.Tell(new SubsystemRegistered(_subsystem, levels, _sequence));
        foreach (var decision in atRegistration) Act(decision, send: false); // the reply carried it
        PublishStatus();
        _accepted = true;
        if (retry) _log.Debug("Subsystem {0} registered again from {1}", _subsystem, register.Ref.Path);
        else _log.Info($"Subsystem {_subsystem} registered from {register.Ref.Path} (host {register.Host}, priority {register.Priority}, actions {string.Join(",", register.Actions)})");
    }

    // A process restarted on a new port registers before the old one is seen dead: ask the holder whether it still exists,
    // so the newcomer's next attempt is accepted once it does not, instead of waiting for the failure detector.
    private void ProbeHolder()
    {
        // One probe at a time: a newcomer retrying faster than the probe's wait must not restart it every time, or the
        // probe never concludes and only the failure detector (much later) would free the name.
        if (_registration is null || _probing) return;
        _probing = true;
        _holderProbe++;
        _holderAnswered = false;
        _registration.Ref.Tell(new Identify(_holderProbe), Self);
        Context.System.Scheduler.ScheduleTellOnceCancelable(HolderProbeWait, Self, new HolderProbeTimeout(_holderProbe), Self);
    }

    private void HolderGone(string why)
    {
        if (!_reachable || _registration is null) return;
        _reachable = false;
        PublishStatus();
        _log.Warning($"Subsystem {_subsystem}: its registered actor {_registration.Ref.Path} is marked down ({why}); the next registration takes over");
    }

    // After a resume, the backlog of profiles (buffered while the shard moved) yields one evaluation, on the newest.
    private void Offer(HostProfile profile)
    {
        if (_catchingUp)
        {
            // The backlog a shard region hands over arrives within milliseconds, but not necessarily before the recovery
            // ends: wait one catch-up window for the rest of it, then evaluate the newest once.
            if (_latest.Offer(profile))
                _catchUpTimer = Context.System.Scheduler.ScheduleTellOnceCancelable(CatchUpWindow, Self, EvaluateLatest.Instance, Self);
        }
        else if (_latest.Accept(profile)) Evaluate(profile);
    }

    private void Evaluate(HostProfile profile)
    {
        if (_registration is null) return;
        var changes = ClampToBudgetCaps(_policy.Evaluate(profile.Metrics, profile.At));
        EvaluateDry(profile);
        AnnounceIneffective(profile);
        AfterEvaluation(profile);
        if (changes.Count == 0) return;
        var decisions = new List<Decision>(changes.Count);
        var journaledBefore = _journalSequenceNr;
        foreach (var change in changes)
        {
            var decision = Decided(change, profile.Host, profile.At);
            decisions.Add(decision);
            var journaled = _journalSequenceNr;
            // PersistBeforeSend holds the Throttle until its write is confirmed, but only while the journal takes writes.
            if (_config.PersistBeforeSend && _journal.Error is null) _held.Enqueue((journaled, decision));
            else Act(decision);
        }
        _decisionsSinceSnapshot += decisions.Count;
        if (_decisionsSinceSnapshot >= _config.SnapshotEvery)
        {
            _decisionsSinceSnapshot = 0;
            var actions = _policy.Actions.ToList();
            _writer.Tell(new JournalWriter.SaveSnapshotOf(new ActuatorSnapshot(_sequence,
                actions.ToImmutableDictionary(a => a, a => _policy.GetState(a).Level),
                actions.Where(a => _policy.GetState(a).LastChangeAt is not null)
                    .ToImmutableDictionary(a => a, a => _policy.GetState(a).LastChangeAt!.Value),
                _registration, _policy.GetLearned(), BudgetCapsHeld, _dryPolicy?.Levels), journaledBefore)); // these decisions replay over it: idempotent, and republished on recovery
        }
    }

    // The effect check holds an action without a level change: its verdict goes out once on drg.signal.<action> and the
    // decisions topic as an unsent decision (not journalled: it changes no level), and stays in the status.
    private readonly HashSet<string> _announcedIneffective = new(StringComparer.Ordinal);
    private SubsystemPolicy? _ineffectiveOf;
    private int _ineffectiveVersion;

    /// <summary>
    /// A verdict that moves no level (the effect check's, a priority hold): an unsent, unjournaled decision at the current
    /// level, published on <c>drg.signal.&lt;action&gt;</c> and the decisions topic with <paramref name="signal"/> as its signal.
    /// </summary>
    private void PublishNotice(HostProfile profile, string action, string signal, string why)
    {
        var level = _policy.GetState(action).Level;
        var notice = new Decision(_subsystem, profile.Host, action, level, level, 0,
            new ThrottleReason(why, "", signal, double.NaN, double.NaN, double.NaN), profile.At, ImmutableDictionary<string, double>.Empty,
            false, why);
        _mediator.Tell(new Publish(Topics.Signal(action), notice));
        _mediator.Tell(new Publish(Topics.Decisions, notice));
        ToDigest(notice);
    }

    private void AnnounceIneffective(HostProfile profile)
    {
        // Once per change of the policy's verdicts, not per evaluation (building the set was a third of Evaluate's CPU).
        if (ReferenceEquals(_ineffectiveOf, _policy) && _ineffectiveVersion == _policy.IneffectiveVersion) return;
        (_ineffectiveOf, _ineffectiveVersion) = (_policy, _policy.IneffectiveVersion);
        var ineffective = _policy.Ineffective;
        _announcedIneffective.RemoveWhere(a => !ineffective.ContainsKey(a));
        foreach (var (action, why) in ineffective)
        {
            if (!_announcedIneffective.Add(action)) continue;
            PublishNotice(profile, action, "ineffective", why);
            GovernorMetrics.Get(Context.System).IneffectiveVerdicts.WithLabels(_subsystem, action).Inc();
            var verdict = IneffectiveLog.Get(Context.System).Budget.Take(Context.System.Scheduler.Now);
            if (verdict.Log) _log.Warning("Subsystem {0}: {1}{2}", _subsystem, why, IneffectiveLog.Note(verdict));
            PublishStatus();
        }
    }

    /// <summary>A level change as a decision, numbered when the subsystem declared its action, and written to the journal.</summary>
    private Decision Decided(LevelChange change, string host, DateTimeOffset at)
    {
        var declared = _registration!.Actions.Contains(change.Action);
        var sequence = declared ? ++_sequence : 0;
        var decision = new Decision(_subsystem, host, change.Action, change.PreviousLevel, change.Level, sequence,
            change.Reason, at, change.Inputs, declared,
            declared ? "" : $"not sent: subsystem '{_subsystem}' did not declare action '{change.Action}'");
        WriteToJournal(decision);
        return decision;
    }

    // A decision is journaled as the JSON decision.v1 every release reads, not in its binary wire form.
    private long WriteToJournal(object @event)
    {
        _writer.Tell(new JournalWriter.Append(@event is Decision decision ? new PersistedDecision(decision) : @event));
        return ++_journalSequenceNr;
    }

    // Events handed to the writer and not yet confirmed written; the writer keeps at most its buffer's newest ones (the
    // older were dropped for room and counted in JournalOverflowed).
    private int Unjournaled => (int)Math.Min(Math.Max(0, _journalSequenceNr - _journalWrittenUpTo), _persistence.WriteBuffer);

    private void ReleaseHeld(long writtenUpTo)
    {
        while (_held.TryPeek(out var held) && held.JournalSequenceNr <= writtenUpTo)
            Act(_held.Dequeue().Decision);
    }

    private void Act(Decision decision, bool send = true)
    {
        var superseded = false;
        if (send && decision.Sent && _registration is not null)
        {
            var throttle = new Throttle(_subsystem, decision.Action, decision.Level, decision.Sequence, decision.Reason, decision.Host, decision.At);
            superseded = _delivery.Track(throttle, Now); // supersedes any older one of the action
            ArmRetry();
            if (_reachable) _registration.Ref.Tell(throttle, Self);
        }
        _metrics.RecordDecision(decision, superseded, Now);
        _mediator.Tell(new Publish(Topics.Signal(decision.Action), decision));
        _mediator.Tell(new Publish(Topics.Decisions, decision));
        ToDigest(decision);
        PublishStatus();
        if (_decisionLog is not null)
            LogDecision(_decisionLog, decision.Host, _subsystem, decision.Action, decision.PreviousLevel, decision.Level, decision.Sequence, decision.Reason,
                decision.Sent ? "" : " (" + decision.Detail + ")");
        else if (_log.IsInfoEnabled)
            _log.Info($"Decision {_subsystem}/{decision.Action}: {decision.PreviousLevel:0.###} -> {decision.Level:0.###} seq {decision.Sequence}: {decision.Reason}{(decision.Sent ? "" : " (" + decision.Detail + ")")}");
    }

    private void Acknowledge(ThrottleAck ack)
    {
        // Only the registered subsystem acks its Throttles: an ack from any other actor system is dropped (once logged).
        if (_registration is null || !MessageOrigin.IsFrom(Sender, _registration.Ref, ((ExtendedActorSystem)Context.System).Provider.DefaultAddress))
        {
            var origin = MessageOrigin.Of(Sender).ToString();
            if (_refusedAckOrigins.Count < 100 && _refusedAckOrigins.Add(origin))
                _log.Warning("Dropped an ack of {0} seq {1} from {2}: only the registered subsystem ({3}) acks its Throttles",
                    _subsystem, ack.Sequence, origin, _registration?.Ref.Path.ToString() ?? "none registered");
            return;
        }
        _delivery.Acknowledge(ack.Sequence);
        _metrics.ThrottlesAcked.WithLabels(_subsystem, ack.Applied ? "true" : "false").Inc();
        if (!_reachable && _registration is not null) _reachable = true;
        if (!ack.Applied) _log.Info("Subsystem {0} did not apply Throttle seq {1}: {2}", _subsystem, ack.Sequence, ack.Detail);
        PublishStatus();
    }

    private void Retry()
    {
        if (!_delivery.HasPending)
        {
            _retryTimer?.Cancel();
            _retryTimer = null;
            return;
        }
        if (_registration is null || !_reachable) return;
        var round = _delivery.Retry(Now);
        foreach (var throttle in round.Resend)
        {
            _registration.Ref.Tell(throttle, Self);
            _metrics.ThrottlesRetried.WithLabels(_subsystem, throttle.Action).Inc();
        }
        if (round.BecameSilent is not { } silent) return;
        PublishStatus(); // every fleet view shows it unreachable, not only a direct status query
        _log.Warning($"Subsystem {_subsystem} is silent: Throttle seq {silent.Throttle.Sequence} ({silent.Throttle.Action} -> {silent.Throttle.Level:0.###}) unacknowledged after {silent.Attempts} attempts; still retrying, at most every {_config.MaxBackoff}");
    }

    private void PublishStatus()
    {
        var status = Status();
        _mediator.Tell(new Publish(Topics.Subsystems, status));
        ToDigest(status);
        ReportToPeers();
    }

    // Statuses and decisions reach the fleet views, decision logs and the budget owner through the node's digest
    // (drg.subsystems.digest), one batch per node and linger; the per-event topics above stay for their own subscribers.
    private void ToDigest(object @event)
    {
        if (_events is not null)
        {
            _events.Tell(@event);
            return;
        }
        var node = ((ExtendedActorSystem)Context.System).Provider.DefaultAddress.ToString();
        _mediator.Tell(new Publish(Topics.SubsystemDigest, @event switch
        {
            SubsystemStatus status => new SubsystemDigest(node, Now, [status], []),
            Decision decision => new SubsystemDigest(node, Now, [], [decision]),
            RecentDecisions recent => new SubsystemDigest(node, Now, [], recent.Decisions),
            _ => throw new ArgumentException($"{@event.GetType()} is not a subsystem event", nameof(@event)),
        }));
    }

    private SubsystemStatus Status() => WithPolicyVersions(new(
        _subsystem, _host, _registration?.Priority ?? 0,
        (_registration?.Actions ?? []).ToImmutableDictionary(a => a, _ => 1.0, StringComparer.Ordinal).SetItems(WithBudgetCaps(_policy.Levels)),
        _sequence, _delivery.LastAcked, _reachable && !_delivery.IsSilent, [.. _policy.Skipped, .. PeerHolds()],
        Unjournaled, _journal.Error is null ? null : $"{_journal.Error} (since {_journal.FailingSince:HH:mm:ss} UTC)", _journal.Overflowed,
        _policy.Model, _policy.Ineffective));

    [LoggerMessage(EventId = 1, Level = Microsoft.Extensions.Logging.LogLevel.Information,
        Message = "Decision {Subsystem}/{Action} on {Host}: {PreviousLevel:0.###} -> {Level:0.###} seq {Sequence}: {Reason}{Unsent}")]
    private static partial void LogDecision(ILogger logger, string host, string subsystem, string action, double previousLevel, double level,
        long sequence, ThrottleReason reason, string unsent);
}
