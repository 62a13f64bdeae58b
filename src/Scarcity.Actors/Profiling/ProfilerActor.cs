using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Akka.Persistence;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Metrics;
using Scarcity.Actors.Journaling;
using Scarcity.Actors.Sharding;

namespace Scarcity.Actors.Profiling;

/// <summary>
/// The sharded entity of one host: feeds every reading of the host's samples and of its subsystems'
/// <see cref="ReportMetrics"/> into the host's <see cref="HostProfiler"/>, rejects (and counts) NaN and infinite readings
/// and every report from an actor other than the subsystem's holder (as its actuator named it in <see cref="AttachSubsystem"/>),
/// publishes the profile on <c>drg.telemetry</c> (and to its node's telemetry digest, which feeds every fleet view) and
/// hands it to the actuator entity of every subsystem on the host.
/// Its filters are snapshotted every <see cref="ProfilerConfig.SnapshotEverySamples"/> samples and when sharding hands it
/// off (a rebalance, its node leaving), so when it moves to another node the Kalman level and trend continue.
/// When the host's samples stop for three intervals its sensor series turn stale (rules on them are skipped, levels
/// hold) and <c>drg.node.stale</c> says so; fresh samples clear it. App metrics (<see cref="ReportMetrics"/>) stay fresh
/// while their subsystem reports, and are coalesced: published and evaluated once per sample or interval.
/// </summary>
public sealed partial class ProfilerActor : ReceivePersistentActor
{
    private sealed class StaleCheck : INoSerializationVerificationNeeded
    {
        public static readonly StaleCheck Instance = new();
    }

    /// <summary>After a resume: hand the actuators the newest profile once the samples queued meanwhile are through.</summary>
    private sealed class EvaluateLatest : INoSerializationVerificationNeeded
    {
        public static readonly EvaluateLatest Instance = new();
    }

    private sealed class HandOffTimedOut : INoSerializationVerificationNeeded
    {
        public static readonly HandOffTimedOut Instance = new();
    }

    // Behind every sample sent straight before the profiler left the node's directory at a hand-off.
    private sealed class HandOffDrained : INoSerializationVerificationNeeded
    {
        public static readonly HandOffDrained Instance = new();
    }

    private readonly string _host;
    private readonly ProfilerConfig _config;
    private readonly TimeSpan _interval;
    private readonly IActorRef _actuators;
    // Sharded (an entity of the host region): this node's directory entry, through which /user/profilers sends samples
    // straight; the actuators of this shard that attached, which get their profiles straight too (an actuator evaluates a
    // profile only when it is newer than the last, so the two paths need no order between them; HostPeers, which replace
    // what an actuator knows, keep to the shard).
    private readonly bool _sharded;
    private LocalProfilers.Entry? _entry;
    private readonly Dictionary<string, IActorRef> _actuatorRefs = new(StringComparer.Ordinal);
    private readonly IActorRef _digest;
    private readonly HostProfiler _profiler;
    private readonly IActorRef _mediator;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly GovernorMetrics _metrics = GovernorMetrics.Get(Context.System);
    private readonly HostStaleLog _staleLog = HostStaleLog.Get(Context.System);
    private readonly IActorRef? _recorder = Recording.TelemetryRecording.RecorderOf(Context.System); // null: recording off
    private readonly HashSet<string> _subsystems = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _holders = new(StringComparer.Ordinal);
    private readonly HashSet<string> _rejectedReporters = new(StringComparer.Ordinal);
    private readonly HashSet<string> _reportedStale = new(StringComparer.Ordinal);
    private readonly HashSet<string> _rejectedSeries = new(StringComparer.Ordinal);
    private long _rejected;
    private long _profiled;
    private long _samples;
    private int _samplesSinceSnapshot;
    private readonly PersistenceConfig _persistence;
    private IActorRef _writer = ActorRefs.Nobody;
    // When the last sample arrived, on the monotonic clock: a wall clock stepping (NTP) neither hides a silent host
    // nor makes a live one stale.
    private long _lastSampleArrived;
    // The newest sample time: the host's own clock, which the stale profile continues (see CheckStale).
    private DateTimeOffset _lastSampleAt;
    private DateTimeOffset _lastReportAt;
    private bool _hasSensor;
    private bool _reportsPending;
    private bool _hostStale;
    private ICancelable? _staleTimer;
    // Resumed with subsystems (a restart or a failover): the samples buffered while the shard moved all update the
    // filters, but only the newest profile among them goes to the actuators, as a decision on current data.
    private bool _catchingUp;
    private HostProfile? _latestForActuators;
    // Samples or rejected readings since the last snapshot taken; the hand-off snapshot and when it times out.
    private bool _changedSinceSnapshot;
    private ProfilerSnapshot? _handOffSnapshot;
    private ICancelable? _handOffTimer;

    /// <summary>
    /// Props of the profiler entity of <paramref name="host"/>; <paramref name="actuators"/> is the actuator shard region,
    /// <paramref name="digest"/> this node's <see cref="Monitoring.TelemetryDigestActor"/> (or <see cref="ActorRefs.Nobody"/>).
    /// </summary>
    /// <remarks>
    /// <paramref name="persistence"/> bounds and paces its journal writes (the defaults when null).
    /// <paramref name="actuatorsInMyShard"/> (default false): the profiler is an entity of the host region, whose
    /// actuators are entities of the same shard, so it hands their messages to its parent, the shard, instead of to
    /// <paramref name="actuators"/> (the region): one actor hop fewer per sample and subsystem.
    /// </remarks>
    public static Props Props(string host, ProfilerConfig config, TimeSpan interval, IActorRef actuators, IActorRef digest, PersistenceConfig? persistence = null,
        bool actuatorsInMyShard = false) =>
        Akka.Actor.Props.Create(() => new ProfilerActor(host, config, interval, actuators, digest, persistence, actuatorsInMyShard));

    /// <summary>The persistence id of a host's profiler; stable, so a restart or failover finds its snapshot.</summary>
    public static string PersistenceIdFor(string host) => "profiler-" + host;

    /// <summary>
    /// How <see cref="AttachSubsystem.Holder"/> names an actor, and how a <see cref="ReportMetrics.Reporter"/> is compared
    /// with it: the full path with the address of the node it lives on (a local actor gets this node's), without the uid.
    /// The same on every governor node, whichever node holds the actuator and whichever the profiler.
    /// </summary>
    public static string HolderPathOf(IActorRef actor, ActorSystem system) =>
        actor.Path.ToStringWithAddress(((ExtendedActorSystem)system).Provider.DefaultAddress);

    /// <summary>Creates the profiler.</summary>
    public ProfilerActor(string host, ProfilerConfig config, TimeSpan interval, IActorRef actuators, IActorRef digest, PersistenceConfig? persistence = null,
        bool actuatorsInMyShard = false)
    {
        _persistence = persistence ?? new PersistenceConfig();
        _digest = digest;
        _host = host;
        _config = config;
        _interval = interval;
        // A shard delivers whatever its region's extractor routes to one of its entities, starting the entity if needed.
        _actuators = actuatorsInMyShard ? Context.Parent : actuators;
        _sharded = actuatorsInMyShard;
        _profiler = new HostProfiler(config, notice => _log.Warning("Host {0}: {1}", host, notice));
        // Hosts that start together would otherwise all snapshot in the same instant, every SnapshotEverySamples
        // samples; a per-host offset spreads the writes evenly over the period.
        _samplesSinceSnapshot = (int)(StableHash(host) % (uint)config.SnapshotEverySamples);
        _mediator = DistributedPubSub.Get(Context.System).Mediator;

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is not ProfilerSnapshot snapshot) return;
            _profiler.Import(snapshot.Series);
            _subsystems.UnionWith(snapshot.Subsystems);
            foreach (var (subsystem, holder) in snapshot.Holders ?? ImmutableDictionary<string, string>.Empty) _holders[subsystem] = holder;
            _rejected = snapshot.RejectedValues;
        });
        Recover<AttachSubsystem>(Attach);
        Recover<DetachSubsystem>(Detach);
        Recover<RecoveryCompleted>(_ =>
        {
            _catchingUp = _subsystems.Count > 0;
            // Attachments and snapshots are written through a child that survives an unreachable database.
            PersistenceHealth.Get(Context.System).Succeeding(PersistenceId);
            _writer = Context.ActorOf(JournalWriter.Props(PersistenceId, LastSequenceNr, GovernorEntities.ProfilerType, _persistence, deleteOlderSnapshots: false), "journal");
            if (_sharded) _entry = LocalProfilers.Get(Context.System).Enter(_host, Self);
            if (_profiler.Count > 0)
                _log.Info("Profiler of {0} resumed {1} series and {2} subsystems from its snapshot", _host, _profiler.Count, _subsystems.Count);
        });

        Command<Sample>(OnSample);
        // Every sample sent before the probe on its path is through (the sensor node's router holds the host's samples
        // for this answer before it sends them another way).
        Command<SamplePathProbe>(p => Sender.Tell(new SamplePathProbeAck(p.Host, p.Id)));
        // The host region's hand-off stop message (a rebalance, a node leaving): the filters as they are now go to the
        // snapshot store first, so the entity that starts on the next node continues from here, not from the last
        // periodic snapshot (up to SnapshotEverySamples old). At most HandOffDrainTimeout when the store does not answer.
        // It leaves the node's directory first (no sample comes straight after that) and profiles what came straight
        // before, up to a marker behind them; samples sent after it go to the region, which holds them for the next home.
        Command<Actuation.ActuatorActor.StopWhenWritten>(_ =>
        {
            LeaveDirectory();
            Self.Tell(HandOffDrained.Instance);
        });
        Command<HandOffDrained>(_ => StopWhenSnapshotted());
        Command<JournalWriter.SnapshotWritten>(w =>
        {
            if (ReferenceEquals(w.Snapshot, _handOffSnapshot)) Context.Stop(Self);
        });
        Command<HandOffTimedOut>(_ => Context.Stop(Self));
        Command<ReportMetrics>(OnReport);
        Command<EvaluateLatest>(_ =>
        {
            _catchingUp = false;
            if (_latestForActuators is { } latest) Evaluate(latest);
            _latestForActuators = null;
        });
        Command<AttachSubsystem>(a =>
        {
            Adopt(a.Subsystem, Sender);
            // An attach without a holder (an older actuator) never forgets a known one.
            var known = _subsystems.Contains(a.Subsystem) && (a.Holder is null || (_holders.TryGetValue(a.Subsystem, out var holder) && holder == a.Holder));
            if (known) return;
            _writer.Tell(new JournalWriter.Append(a));
            Attach(a);
        });
        Command<DetachSubsystem>(d =>
        {
            if (!_subsystems.Contains(d.Subsystem)) return;
            _writer.Tell(new JournalWriter.Append(d));
            Detach(d);
            ForgetPeer(d.Subsystem);
            if (_actuatorRefs.Remove(d.Subsystem, out var actuator)) Context.Unwatch(actuator);
        });
        Command<StaleCheck>(_ =>
        {
            if (_reportsPending)
            {
                _reportsPending = false;
                _recorder?.Tell(TelemetryRecord.EvaluatedAt(_host, _lastReportAt));
                Publish(_lastReportAt);
            }
            CheckStale();
        });
        Command<Terminated>(t =>
        {
            foreach (var (subsystem, actuator) in _actuatorRefs.ToList())
                if (actuator.Equals(t.ActorRef)) _actuatorRefs.Remove(subsystem);
        });
        ReceivePeerStates();
        Command<JournalWriter.Written>(_ => { });
        Command<JournalWriter.WriterState>(_ => { });
    }

    /// <inheritdoc />
    public override string PersistenceId => PersistenceIdFor(_host);

    /// <inheritdoc />
    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        // The entity stops (Akka.Persistence) and sharding starts it again after its entity-restart-backoff.
        _metrics.RecoveryFailures.WithLabels(GovernorEntities.ProfilerType).Inc();
        var health = PersistenceHealth.Get(Context.System);
        var now = Context.System.Scheduler.Now;
        health.Failing(PersistenceId, $"recovery: {reason.GetType().Name}: {reason.Message}", now);
        if (health.ShouldLog("recovery|profiler|" + reason.GetType().Name + reason.Message, _persistence.ErrorLogInterval, now, out var suppressed))
            _log.Warning("Recovery of {0} failed ({1}: {2}){3}; the entity stops and sharding restarts it, recovering again, until the database answers",
                PersistenceId, reason.GetType().Name, reason.Message, suppressed > 0 ? $" ({suppressed} more like it since the last such line)" : "");
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        base.PreStart();
        _lastSampleArrived = System.Diagnostics.Stopwatch.GetTimestamp();
        _staleTimer = Context.System.Scheduler.ScheduleTellRepeatedlyCancelable(_interval, _interval, Self, StaleCheck.Instance, Self);
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        LeaveDirectory();
        _staleTimer?.Cancel();
        _handOffTimer?.Cancel();
        base.PostStop();
    }

    private void OnSample(Sample sample)
    {
        _recorder?.Tell(sample);
        foreach (var value in sample.Values) Feed(value.Metric, value.Value, sample.At);
        foreach (var series in sample.Stale) _reportedStale.Add(series);
        _lastSampleArrived = System.Diagnostics.Stopwatch.GetTimestamp();
        if (sample.At > _lastSampleAt) _lastSampleAt = sample.At;
        _samples++;
        _entry?.Handled(sample.At);
        _hasSensor = true;
        _reportsPending = false;
        if (_hostStale)
        {
            _hostStale = false;
            var verdict = _staleLog.Fresh.Take(Context.System.Scheduler.Now);
            if (verdict.Log) _log.Info("Host {0}: samples resumed; its metrics are fresh again{1}", _host, HostStaleLog.Note(verdict, "turned fresh again"));
            _mediator.Tell(new Publish(Topics.NodeStale, new NodeStale(_host, false, [], sample.At)));
        }
        Publish(sample.At);
        if (++_samplesSinceSnapshot >= _config.SnapshotEverySamples)
        {
            _samplesSinceSnapshot = 0;
            _writer.Tell(new JournalWriter.SaveSnapshotOf(TakeSnapshot()));
        }
    }

    private void LeaveDirectory()
    {
        if (_entry is null) return;
        LocalProfilers.Get(Context.System).Leave(_host, _entry);
        _entry = null;
    }

    // An actuator of this shard that attached (the sender of its AttachSubsystem, a sibling entity) gets messages straight.
    private void Adopt(string subsystem, IActorRef actuator)
    {
        if (!_sharded || actuator.IsNobody() || !actuator.Path.Parent.Equals(Self.Path.Parent)) return;
        if (_actuatorRefs.TryGetValue(subsystem, out var known) && known.Equals(actuator)) return;
        if (known is not null) Context.Unwatch(known);
        _actuatorRefs[subsystem] = actuator;
        Context.Watch(actuator);
    }

    private IActorRef ActuatorOf(string subsystem) => _actuatorRefs.TryGetValue(subsystem, out var actuator) ? actuator : _actuators;

    private ProfilerSnapshot TakeSnapshot()
    {
        _changedSinceSnapshot = false;
        return new ProfilerSnapshot(_profiler.Export(), [.. _subsystems], _rejected, _holders.ToImmutableDictionary(StringComparer.Ordinal));
    }

    private void StopWhenSnapshotted()
    {
        if (_handOffSnapshot is not null) return;
        if (!_changedSinceSnapshot)
        {
            Context.Stop(Self);
            return;
        }
        _handOffSnapshot = TakeSnapshot();
        _writer.Tell(new JournalWriter.SaveSnapshotOf(_handOffSnapshot));
        _handOffTimer = Context.System.Scheduler.ScheduleTellOnceCancelable(Actuation.ActuatorActor.HandOffDrainTimeout, Self, HandOffTimedOut.Instance, Self);
    }

    private void Attach(AttachSubsystem attach)
    {
        _subsystems.Add(attach.Subsystem);
        if (attach.Holder is null || (_holders.TryGetValue(attach.Subsystem, out var holder) && holder == attach.Holder)) return;
        _holders[attach.Subsystem] = attach.Holder;
        _rejectedReporters.Clear(); // a new holder: whoever is refused now is worth a line again
    }

    private void Detach(DetachSubsystem detach)
    {
        _subsystems.Remove(detach.Subsystem);
        _holders.Remove(detach.Subsystem);
    }

    private void OnReport(ReportMetrics report)
    {
        if (Refusal(report) is { } refusal)
        {
            _rejected += report.Values.Count;
            _metrics.ReadingsRejected.WithLabels(_host, "not_holder").Inc(report.Values.Count);
            if (_rejectedReporters.Add($"{report.Subsystem} {refusal.Reporter}"))
                _log.Warning("Host {0}: reports of subsystem {1} from {2} are not profiled: {3} (counted as rejected readings; logged once per reporter)",
                    _host, report.Subsystem, refusal.Reporter, refusal.Why);
            return;
        }
        _recorder?.Tell(report);
        foreach (var (metric, value) in report.Values)
            Feed(MetricNames.Labelled(metric, MetricNames.SubsystemLabel, report.Subsystem), value, report.At);
        // App metrics are coalesced: the host's next sample (or the next interval tick, for a host without a sensor)
        // publishes and evaluates them, so a hundred reporting subsystems cost one profile per interval, not a hundred.
        _reportsPending = true;
        if (report.At > _lastReportAt) _lastReportAt = report.At;
    }

    // Only the registered holder's reports count: a rejected duplicate of the name must not move the holder's metrics.
    private (string Reporter, string Why)? Refusal(ReportMetrics report)
    {
        var reporter = report.Reporter is null ? "an unnamed reporter" : HolderPathOf(report.Reporter, Context.System);
        if (!_holders.TryGetValue(report.Subsystem, out var holder))
            return (reporter, $"no registered actor holds subsystem '{report.Subsystem}' on host {_host}");
        if (report.Reporter is null)
            return (reporter, $"the report does not name its reporter (a client older than this governor); {holder} holds the subsystem");
        return reporter == holder ? null : (reporter, $"{holder} holds the subsystem");
    }

    private void Feed(string series, double value, DateTimeOffset at)
    {
        _changedSinceSnapshot = true;
        if (!double.IsFinite(value))
        {
            _rejected++;
            _metrics.ReadingsRejected.WithLabels(_host, "non_finite").Inc();
            if (_rejectedSeries.Add(series))
                _log.Warning("Host {0}: rejected a {1} reading of {2}; non-finite readings are counted and dropped (logged once per series)",
                    _host, value, series);
            return;
        }
        _reportedStale.Remove(series);
        // A reading out of order is counted with the rejected ones; the profiler logs it (once per series).
        if (_profiler.Update(series, value, at)) _profiled++;
        else
        {
            _rejected++;
            _metrics.ReadingsRejected.WithLabels(_host, "out_of_order").Inc();
        }
    }

    private void Publish(DateTimeOffset at)
    {
        var profile = Profile(at);
        PublishTelemetry(profile);
        if (!_catchingUp) Evaluate(profile);
        else
        {
            if (_latestForActuators is null) Self.Tell(EvaluateLatest.Instance);
            _latestForActuators = profile;
        }
    }

    private void Evaluate(HostProfile profile)
    {
        foreach (var subsystem in _subsystems) ActuatorOf(subsystem).Tell(new EvaluateProfile(subsystem, profile));
    }

    private HostProfile Profile(DateTimeOffset at)
    {
        var metrics = _profiler.Snapshot(at, _interval, out var pressure);
        if (_reportedStale.Count > 0 || _hostStale)
        {
            var builder = metrics.ToBuilder();
            foreach (var (series, estimate) in metrics)
                if ((_hostStale && !IsAppMetric(series)) || _reportedStale.Contains(series)) builder[series] = estimate with { Stale = true };
            metrics = builder.ToImmutable();
            pressure = PressureLevels.Of(metrics); // without the series just marked stale
        }
        return new HostProfile(_host, at, pressure, metrics);
    }

    private static uint StableHash(string s)
    {
        var hash = 2166136261u; // FNV-1a: the same on every node and every run, unlike string.GetHashCode
        foreach (var c in s) hash = (hash ^ c) * 16777619u;
        return hash;
    }

    // A subsystem's own series stays fresh while it reports, whatever the host's sensor does.
    private static bool IsAppMetric(string series) => series.Contains("subsystem=\"", StringComparison.Ordinal);

    private void CheckStale()
    {
        var silentFor = System.Diagnostics.Stopwatch.GetElapsedTime(_lastSampleArrived);
        // A host known only from its subsystems' reports has no sensor to go silent.
        if (!_hasSensor || _hostStale || silentFor <= _interval * _config.StaleAfterIntervals) return;
        _hostStale = true;
        // Stamped on the host's clock (its last sample's time plus the silence), not this node's: an actuator evaluates
        // only profiles newer than the last, so a stale profile stamped by a governor whose clock runs ahead of the host's
        // would make every later sample's profile look old and stop the host's governing until the clocks met.
        var now = _lastSampleAt + silentFor;
        var profile = Profile(now);
        var verdict = _staleLog.Stale.Take(Context.System.Scheduler.Now);
        if (verdict.Log)
            _log.Warning("Host {0}: no sample for {1:0.0} s; its metrics are stale, rules on them are skipped and levels hold{2}",
                _host, silentFor.TotalSeconds, HostStaleLog.Note(verdict, "turned stale"));
        _mediator.Tell(new Publish(Topics.NodeStale, new NodeStale(_host, true, [.. profile.Metrics.Keys.Order()], now)));
        PublishTelemetry(profile);
        foreach (var subsystem in _subsystems) ActuatorOf(subsystem).Tell(new EvaluateProfile(subsystem, profile));
    }

    private void PublishTelemetry(HostProfile profile)
    {
        var telemetry = new TelemetryPublished(profile, _rejected, _profiled, _samples);
        _mediator.Tell(new Publish(Topics.Telemetry, telemetry));
        _digest.Tell(telemetry);
    }
}

/// <summary>
/// The node-local entry for samples and app metrics (<c>/user/profilers</c>, also a ClusterClient service): forwards each
/// to the profiler entity of its host, wherever in the cluster that entity lives; a sample of a host whose profiler runs
/// on this node goes to it straight (<see cref="LocalProfilers"/>), not through the region and its shard.
/// </summary>
public sealed class ProfilerGateway : ReceiveActor
{
    /// <summary>Props of the gateway in front of the profiler shard region.</summary>
    public static Props Props(IActorRef profilerRegion) => Akka.Actor.Props.Create(() => new ProfilerGateway(profilerRegion));

    /// <summary>Creates the gateway.</summary>
    public ProfilerGateway(IActorRef profilerRegion)
    {
        // Straight to the host's profiler when it runs on this node (LocalProfilers), else through the region.
        var local = LocalProfilers.Get(Context.System);
        Receive<Sample>(s => local.Send(s, Sender, profilerRegion));
        // A sensor node's samples of one tick for this node's shards (SampleBatchRouter): each to its profiler here.
        Receive<SampleBatch>(b =>
        {
            foreach (var sample in b.Samples) local.Send(sample, Sender, profilerRegion);
        });
        // The sensor node's router drains a host's old path before it sends the host's samples another way.
        Receive<SamplePathProbe>(p => local.Send(p, Sender, profilerRegion));
        Receive<ReportMetrics>(r => profilerRegion.Forward(r));
    }
}
