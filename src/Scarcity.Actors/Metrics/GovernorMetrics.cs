using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Prometheus;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Sharding;

namespace Scarcity.Actors.Metrics;

/// <summary>
/// The Prometheus instruments of one node (one per actor system, an Akka extension, so several nodes in one process
/// keep theirs apart). The shell's actors record into the counters and histograms as things happen; the fleet gauges
/// (every host's series, pressure, subsystem levels, stale hosts) and the cluster gauges are read at scrape time from
/// the node's fleet view (<c>/user/monitor</c>), <see cref="Cluster.State"/> and the local shard regions.
/// Cardinality is bounded by the fleet: labels are hosts, series, subsystems, actions, rules, members and entity types,
/// never a sample, a sequence or a time. Names and labels are listed in docs/operations.md.
/// </summary>
public sealed class GovernorMetrics : IExtension
{
    /// <summary>Seconds buckets of the sampling, journal and sample-to-Throttle histograms: 0.5 ms to about 16 s.</summary>
    private static readonly double[] SecondsBuckets = Histogram.ExponentialBuckets(0.0005, 2, 16);

    private readonly ExtendedActorSystem _system;
    private long _lastSampleTicks;

    /// <summary>The registry <c>/metrics</c> exports.</summary>
    public CollectorRegistry Registry { get; } = Prometheus.Metrics.NewCustomRegistry();

    /// <summary>Throttles sent to a subsystem for the first time, by subsystem and action.</summary>
    public Counter ThrottlesSent { get; }
    /// <summary>Acks received, by subsystem and whether the Throttle was applied.</summary>
    public Counter ThrottlesAcked { get; }
    /// <summary>Throttles resent for want of an ack, by subsystem and action.</summary>
    public Counter ThrottlesRetried { get; }
    /// <summary>Pending Throttles replaced by a newer one of the same action before their ack, by subsystem and action.</summary>
    public Counter ThrottlesSuperseded { get; }
    /// <summary>Decisions, by subsystem, action, rule and kind (escalation, recovery, model: a learned model's level, the level the load needs or a cut for a step's headroom, latency: latency admission, crash: a crash's hard limit).</summary>
    public Counter Decisions { get; }
    /// <summary>Readings rejected by the profilers of this node, by host and reason.</summary>
    public Counter ReadingsRejected { get; }
    /// <summary>Sensor reads of this node, seconds.</summary>
    public Histogram SamplingDuration { get; }
    /// <summary>Sensor ticks skipped because the previous read still ran.</summary>
    public Counter SamplingSkipped { get; }
    /// <summary>Sensor reads that failed.</summary>
    public Counter SamplingFailures { get; }
    /// <summary>From the sample's timestamp to the Throttle sent, seconds, by subsystem.</summary>
    public Histogram SampleToThrottle { get; }
    /// <summary>Journal writes of decisions and registrations, seconds, by entity type.</summary>
    public Histogram JournalWrite { get; }
    /// <summary>Journal writes that failed or were rejected, by entity type.</summary>
    public Counter JournalFailures { get; }
    /// <summary>Events dropped because an entity's write buffer was full while the database did not take them, by entity type.</summary>
    public Counter JournalOverflow { get; }
    /// <summary>Events decided but not yet in the journal, summed over this node's entities, by entity type.</summary>
    public Gauge JournalBacklog { get; }
    /// <summary>Snapshot writes that failed, by entity type.</summary>
    public Counter SnapshotFailures { get; }
    /// <summary>Entity recoveries that failed (the database did not answer when the entity started), by entity type.</summary>
    public Counter RecoveryFailures { get; }
    /// <summary>Dry-run decisions: what a policy, subsystem or rule marked dry-run would have done, never sent; labels as <c>scarcity_decisions_total</c>.</summary>
    public Counter DryDecisions { get; }
    /// <summary>Verdicts of the effect check: an action cut twice without a measurable effect is held, by subsystem and action.</summary>
    public Counter IneffectiveVerdicts { get; }
    /// <summary>Failed scrapes of a subsystem's Prometheus endpoint (refused, HTTP error, timeout, not an exposition), by target URL and subsystem.</summary>
    public Counter ScrapeErrors { get; }
    /// <summary>Messages refused on the wire or in the journal, by reason (read from <see cref="WireRefusals"/> at scrape time).</summary>
    private readonly Counter _wireRefused;

    private readonly Gauge _raw, _ema, _estimate, _forecast, _forecastStdDev, _stale, _pressure, _hostStale, _level,
        _reachable, _lastSequence, _lastAcked, _rejectedTotal, _members, _shards, _entities, _sampleAge, _up;

    /// <summary>Creates the instruments of <paramref name="system"/>.</summary>
    public GovernorMetrics(ExtendedActorSystem system)
    {
        _system = system;
        var f = Prometheus.Metrics.WithCustomRegistry(Registry);
        string[] subsystemAction = ["subsystem", "action"];
        ThrottlesSent = f.CreateCounter("scarcity_throttles_sent_total", "Throttles sent to a subsystem (first attempt).", subsystemAction);
        ThrottlesAcked = f.CreateCounter("scarcity_throttles_acked_total", "Throttle acks received; applied=false when the subsystem declined it.", ["subsystem", "applied"]);
        ThrottlesRetried = f.CreateCounter("scarcity_throttles_retried_total", "Throttles resent because no ack came within the backoff.", subsystemAction);
        ThrottlesSuperseded = f.CreateCounter("scarcity_throttles_superseded_total", "Unacked Throttles replaced by a newer one of the same action.", subsystemAction);
        Decisions = f.CreateCounter("scarcity_decisions_total", "Level changes decided, by rule and kind (escalation, recovery, model, latency, crash).", ["subsystem", "action", "rule", "kind"]);
        IneffectiveVerdicts = f.CreateCounter("scarcity_ineffective_verdicts_total",
            "Actions the effect check found ineffective (cut twice without a measurable effect on their metric; held, not cut further).", subsystemAction);
        DryDecisions = f.CreateCounter("scarcity_dry_decisions_total", "Dry-run decisions (journaled and published, never sent), by rule and kind.", ["subsystem", "action", "rule", "kind"]);
        ReadingsRejected = f.CreateCounter("scarcity_readings_rejected_total", "Readings rejected by this node's profilers (non_finite, out_of_order, not_holder).", ["host", "reason"]);
        SamplingDuration = f.CreateHistogram("scarcity_sampling_duration_seconds", "Time one sensor read of this node took.", new HistogramConfiguration { Buckets = SecondsBuckets });
        SamplingSkipped = f.CreateCounter("scarcity_sampling_skipped_total", "Sensor ticks skipped because the previous read was still running.");
        SamplingFailures = f.CreateCounter("scarcity_sampling_failures_total", "Sensor reads that threw.");
        SampleToThrottle = f.CreateHistogram("scarcity_sample_to_throttle_seconds", "From the sample's timestamp to the Throttle it caused leaving the actuator.",
            new HistogramConfiguration { LabelNames = ["subsystem"], Buckets = SecondsBuckets });
        JournalWrite = f.CreateHistogram("scarcity_journal_write_seconds", "A journal write of an entity's events, from the write sent to the journal's answer, by entity type.",
            new HistogramConfiguration { LabelNames = ["entity"], Buckets = SecondsBuckets });
        JournalFailures = f.CreateCounter("scarcity_journal_write_failures_total", "Journal writes that failed or were rejected, by entity type.", ["entity"]);
        JournalOverflow = f.CreateCounter("scarcity_journal_overflow_total", "Events dropped unwritten because an entity's write buffer (Scarcity:Persistence:WriteBuffer) was full, by entity type.", ["entity"]);
        JournalBacklog = f.CreateGauge("scarcity_journal_backlog_events", "Events decided but not yet written to the journal on this node, by entity type.", ["entity"]);
        SnapshotFailures = f.CreateCounter("scarcity_snapshot_failures_total", "Snapshot writes that failed, by entity type.", ["entity"]);
        RecoveryFailures = f.CreateCounter("scarcity_recovery_failures_total", "Entity recoveries that failed (journal or snapshot store unreachable at start), by entity type.", ["entity"]);
        ScrapeErrors = f.CreateCounter("scarcity_scrape_errors_total", "Failed scrapes of a subsystem's Prometheus endpoint, by target URL and subsystem.", ["target", "subsystem"]);

        string[] series = ["host", "series", "metric"];
        _raw = f.CreateGauge("scarcity_series_raw", "The last reading of a host's series (the series' own unit).", series);
        _ema = f.CreateGauge("scarcity_series_ema", "Exponential moving average of a host's series.", series);
        _estimate = f.CreateGauge("scarcity_series_estimate", "Kalman estimate of a host's series' level.", series);
        _forecast = f.CreateGauge("scarcity_series_forecast", "Forecast of a host's series at the forecast horizon.", series);
        _forecastStdDev = f.CreateGauge("scarcity_series_forecast_stddev", "Standard deviation of the forecast.", series);
        _stale = f.CreateGauge("scarcity_series_stale", "1 when the series had no fresh reading for three intervals.", series);
        _pressure = f.CreateGauge("scarcity_host_pressure_level", "Host pressure level: 0 green, 1 yellow, 2 orange, 3 red.", ["host"]);
        _hostStale = f.CreateGauge("scarcity_host_stale", "1 when every series of the host is stale (its samples stopped).", ["host"]);
        _level = f.CreateGauge("scarcity_subsystem_level", "The level in force per subsystem and action (1 = unthrottled).", subsystemAction);
        _reachable = f.CreateGauge("scarcity_subsystem_reachable", "1 while the subsystem answers, 0 once dead or silent.", ["subsystem", "host"]);
        _lastSequence = f.CreateGauge("scarcity_subsystem_last_sequence", "Newest Throttle sequence issued to the subsystem.", ["subsystem"]);
        _lastAcked = f.CreateGauge("scarcity_subsystem_last_acked_sequence", "Newest Throttle sequence the subsystem acknowledged.", ["subsystem"]);
        _rejectedTotal = f.CreateGauge("scarcity_fleet_readings_rejected", "Readings rejected so far over the fleet, as the fleet view reports them.");
        _members = f.CreateGauge("scarcity_cluster_members", "Cluster members as this node sees them, by status and role.", ["status", "role"]);
        _shards = f.CreateGauge("scarcity_shards", "Shards hosted by this node, by entity type.", ["entity"]);
        _entities = f.CreateGauge("scarcity_entities", "Entities running on this node, by entity type.", ["entity"]);
        _sampleAge = f.CreateGauge("scarcity_sensor_last_sample_age_seconds", "Seconds since this node's sensor last produced a sample (absent on a node without one).");
        _up = f.CreateGauge("scarcity_cluster_self_up", "1 while this node is an Up member of the cluster.");

        _wireRefused = f.CreateCounter("scarcity_wire_messages_refused_total",
            "Messages refused before any type was created: disabled_serializer (Newtonsoft JSON, no binding), unknown_manifest, too_large, malformed.",
            ["reason"]);
        Registry.AddBeforeCollectCallback(RefreshAsync);
    }

    /// <summary>The metrics of <paramref name="system"/>.</summary>
    public static GovernorMetrics Get(ActorSystem system) => system.WithExtension<GovernorMetrics, GovernorMetricsProvider>();

    /// <summary>When this node's sensor last produced a sample; null before the first.</summary>
    public DateTimeOffset? LastSampleAt
    {
        get
        {
            var ticks = Interlocked.Read(ref _lastSampleTicks);
            return ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
        }
    }

    /// <summary>Records a sensor read that took <paramref name="elapsed"/> and produced a sample (or failed).</summary>
    public void RecordSample(TimeSpan elapsed, bool failed)
    {
        SamplingDuration.Observe(elapsed.TotalSeconds);
        if (failed) SamplingFailures.Inc();
        else Interlocked.Exchange(ref _lastSampleTicks, _system.Scheduler.Now.UtcTicks);
    }

    /// <summary>Records a decision and, when sent, the Throttle leaving at <paramref name="now"/>.</summary>
    public void RecordDecision(Decision decision, bool superseded, DateTimeOffset now)
    {
        // A learned model's reason carries its coefficients: its rule label is just "model", or the label set would grow
        // with every fit (the cardinality stays one series per configured rule, plus recovery and model).
        var (rule, kind) = decision.Reason switch
        {
            { Signal: "model" } => ("model", "model"),
            // Latency admission and crash limits carry figures too: one label each.
            { Signal: SubsystemPolicy.AdmissionSignal } => (SubsystemPolicy.AdmissionSignal, "latency"),
            { Signal: SubsystemPolicy.CrashSignal } => (SubsystemPolicy.CrashSignal, "crash"),
            // The learned batch's other decisions (the level the load needs, the headroom for a step) carry figures too.
            { Signal: SubsystemPolicy.LoadSignal } => (SubsystemPolicy.LoadSignal, "model"),
            { Signal: SubsystemPolicy.HeadroomSignal } => (SubsystemPolicy.HeadroomSignal, "model"),
            { Rule: "recovery" } => ("recovery", "recovery"),
            var r => (r.Rule, "escalation"),
        };
        (decision.Dry ? DryDecisions : Decisions).WithLabels(decision.Subsystem, decision.Action, rule, kind).Inc();
        if (!decision.Sent) return;
        ThrottlesSent.WithLabels(decision.Subsystem, decision.Action).Inc();
        if (superseded) ThrottlesSuperseded.WithLabels(decision.Subsystem, decision.Action).Inc();
        SampleToThrottle.WithLabels(decision.Subsystem).Observe(Math.Max(0, (now - decision.At).TotalSeconds));
    }

    /// <summary>A timer for one journal write of <paramref name="entity"/>: call the returned action in the Persist callback.</summary>
    public Action TimeJournalWrite(string entity)
    {
        var started = Stopwatch.GetTimestamp();
        var done = 0;
        return () =>
        {
            if (Interlocked.Exchange(ref done, 1) == 0) JournalWrite.WithLabels(entity).Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        };
    }

    private async Task RefreshAsync(CancellationToken cancel)
    {
        RefreshCluster();
        foreach (var (reason, count) in WireRefusals.Get(_system).Counts) _wireRefused.WithLabels(reason).IncTo(count);
        await Task.WhenAll(RefreshFleetAsync(cancel), RefreshShardsAsync(cancel)).ConfigureAwait(false);
    }

    private void RefreshCluster()
    {
        var cluster = Cluster.Get(_system);
        var state = cluster.State;
        var counts = new Dictionary<(string, string), int>();
        foreach (var member in state.Members)
        {
            var status = state.Unreachable.Contains(member) ? "unreachable" : member.Status.ToString().ToLowerInvariant();
            foreach (var role in member.Roles.DefaultIfEmpty("none")) counts[(status, role)] = counts.GetValueOrDefault((status, role)) + 1;
        }
        foreach (var labels in _members.GetAllLabelValues().ToList())
            if (!counts.ContainsKey((labels[0], labels[1]))) _members.RemoveLabelled(labels);
        foreach (var ((status, role), n) in counts) _members.WithLabels(status, role).Set(n);
        _up.Set(cluster.SelfMember.Status == MemberStatus.Up ? 1 : 0);
        if (LastSampleAt is { } at) _sampleAge.Set(Math.Max(0, (_system.Scheduler.Now - at).TotalSeconds));
    }

    private async Task RefreshShardsAsync(CancellationToken cancel)
    {
        if (!Cluster.Get(_system).SelfRoles.Contains(GovernorEntities.GovernorRole)) return;
        var sharding = ClusterSharding.Get(_system);
        try
        {
            // One region holds both kinds (issue 15): shards that hold any of a kind, and its entities, per kind.
            var state = await sharding.ShardRegion(GovernorEntities.HostType)
                .Ask<CurrentShardRegionState>(GetShardRegionState.Instance, TimeSpan.FromSeconds(2), cancel).ConfigureAwait(false);
            foreach (var (type, isKind) in new (string, Func<string, bool>)[]
                     {
                         (GovernorEntities.ProfilerType, id => GovernorEntities.ProfilerHostOf(id) is not null),
                         (GovernorEntities.ActuatorType, id => GovernorEntities.TryParseActuator(id, out _, out _)),
                     })
            {
                _shards.WithLabels(type).Set(state.Shards.Count(s => s.EntityIds.Any(isKind)));
                _entities.WithLabels(type).Set(state.Shards.Sum(s => s.EntityIds.Count(isKind)));
            }
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException or ArgumentException or InvalidOperationException)
        {
            // The region is not started yet, or too busy to answer within a scrape: keep the previous values.
        }
    }

    private async Task RefreshFleetAsync(CancellationToken cancel)
    {
        GovernorStatus status;
        try
        {
            var monitor = await _system.ActorSelection(ServicePaths.Monitor).ResolveOne(TimeSpan.FromSeconds(1), cancel).ConfigureAwait(false);
            status = await monitor.Ask<GovernorStatus>(GetGovernorStatus.Instance, TimeSpan.FromSeconds(2), cancel).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AskTimeoutException or ActorNotFoundException or TaskCanceledException)
        {
            return; // the view is not up yet, or busy: the previous values stand
        }

        var seen = new HashSet<(string, string)>();
        foreach (var (host, profile) in status.Hosts)
        {
            _pressure.WithLabels(host).Set((int)profile.Pressure);
            _hostStale.WithLabels(host).Set(profile.Metrics.Count > 0 && profile.Metrics.Values.All(m => m.Stale) ? 1 : 0);
            foreach (var (series, m) in profile.Metrics)
            {
                seen.Add((host, series));
                var metric = MetricNames.BaseName(series);
                _raw.WithLabels(host, series, metric).Set(m.Raw);
                _ema.WithLabels(host, series, metric).Set(m.Ema);
                _estimate.WithLabels(host, series, metric).Set(m.Estimate);
                _forecast.WithLabels(host, series, metric).Set(m.Forecast);
                _forecastStdDev.WithLabels(host, series, metric).Set(m.ForecastStdDev);
                _stale.WithLabels(host, series, metric).Set(m.Stale ? 1 : 0);
            }
        }
        // A series or host that left the view leaves the exposition too: no series lives on at its last value.
        foreach (var gauge in new[] { _raw, _ema, _estimate, _forecast, _forecastStdDev, _stale })
            foreach (var labels in gauge.GetAllLabelValues().ToList())
                if (!seen.Contains((labels[0], labels[1]))) gauge.RemoveLabelled(labels);
        foreach (var gauge in new[] { _pressure, _hostStale })
            foreach (var labels in gauge.GetAllLabelValues().ToList())
                if (!status.Hosts.ContainsKey(labels[0])) gauge.RemoveLabelled(labels);

        foreach (var (name, s) in status.Subsystems)
        {
            foreach (var (action, level) in s.Levels) _level.WithLabels(name, action).Set(level);
            _lastSequence.WithLabels(name).Set(s.LastSequence);
            _lastAcked.WithLabels(name).Set(s.LastAckedSequence);
        }
        foreach (var labels in _level.GetAllLabelValues().ToList())
            if (!status.Subsystems.TryGetValue(labels[0], out var s) || !s.Levels.ContainsKey(labels[1])) _level.RemoveLabelled(labels);
        foreach (var labels in _reachable.GetAllLabelValues().ToList())
            if (!status.Subsystems.TryGetValue(labels[0], out var s) || s.Host != labels[1]) _reachable.RemoveLabelled(labels);
        foreach (var (name, s) in status.Subsystems) _reachable.WithLabels(name, s.Host).Set(s.Reachable ? 1 : 0);
        _rejectedTotal.Set(status.RejectedSamples);
    }
}

/// <summary>The extension id of <see cref="GovernorMetrics"/>.</summary>
public sealed class GovernorMetricsProvider : ExtensionIdProvider<GovernorMetrics>
{
    /// <inheritdoc />
    public override GovernorMetrics CreateExtension(ExtendedActorSystem system) => new(system);
}
