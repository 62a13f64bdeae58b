using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Profiling;

/// <summary>
/// One per host: feeds every reading of the host's samples and of its subsystems' <see cref="ReportMetrics"/> into the
/// host's <see cref="HostProfiler"/>, rejects (and counts) NaN and infinite readings, publishes the profile on
/// <c>drg.telemetry</c>, and hands it to the policy. When the host's samples stop for three intervals its series turn
/// stale (rules on them are skipped, levels hold) and <c>drg.node.stale</c> says so; fresh samples clear it.
/// </summary>
public sealed class ProfilerActor : ReceiveActor
{
    private sealed class StaleCheck : INoSerializationVerificationNeeded
    {
        public static readonly StaleCheck Instance = new();
    }

    private readonly string _host;
    private readonly ProfilerConfig _config;
    private readonly TimeSpan _interval;
    private readonly IActorRef _policy;
    private readonly HostProfiler _profiler;
    private readonly IActorRef _mediator;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly HashSet<string> _reportedStale = new(StringComparer.Ordinal);
    private readonly HashSet<string> _rejectedSeries = new(StringComparer.Ordinal);
    private long _rejected;
    private DateTimeOffset _lastSampleAt;
    private bool _hostStale;
    private ICancelable? _staleTimer;

    /// <summary>Props of the profiler of <paramref name="host"/>.</summary>
    public static Props Props(string host, ProfilerConfig config, TimeSpan interval, IActorRef policy) =>
        Akka.Actor.Props.Create(() => new ProfilerActor(host, config, interval, policy));

    /// <summary>Creates the profiler.</summary>
    public ProfilerActor(string host, ProfilerConfig config, TimeSpan interval, IActorRef policy)
    {
        _host = host;
        _config = config;
        _interval = interval;
        _policy = policy;
        _profiler = new HostProfiler(config);
        _mediator = DistributedPubSub.Get(Context.System).Mediator;

        Receive<Sample>(OnSample);
        Receive<ReportMetrics>(OnReport);
        Receive<StaleCheck>(_ => CheckStale());
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        _lastSampleAt = Context.System.Scheduler.Now;
        _staleTimer = Context.System.Scheduler.ScheduleTellRepeatedlyCancelable(_interval, _interval, Self, StaleCheck.Instance, Self);
    }

    /// <inheritdoc />
    protected override void PostStop() => _staleTimer?.Cancel();

    private void OnSample(Sample sample)
    {
        foreach (var value in sample.Values) Feed(value.Metric, value.Value, sample.At);
        foreach (var series in sample.Stale) _reportedStale.Add(series);
        _lastSampleAt = Context.System.Scheduler.Now;
        if (_hostStale)
        {
            _hostStale = false;
            _mediator.Tell(new Publish(Topics.NodeStale, new NodeStale(_host, false, [], sample.At)));
        }
        Publish(sample.At);
    }

    private void OnReport(ReportMetrics report)
    {
        foreach (var (metric, value) in report.Values)
            Feed(MetricNames.Labelled(metric, MetricNames.SubsystemLabel, report.Subsystem), value, report.At);
        Publish(report.At);
    }

    private void Feed(string series, double value, DateTimeOffset at)
    {
        if (!double.IsFinite(value))
        {
            _rejected++;
            if (_rejectedSeries.Add(series))
                _log.Warning("Host {0}: rejected a {1} reading of {2}; non-finite readings are counted and dropped (logged once per series)",
                    _host, value, series);
            return;
        }
        _reportedStale.Remove(series);
        _profiler.Update(series, value, at);
    }

    private void Publish(DateTimeOffset at)
    {
        var profile = Profile(at);
        _mediator.Tell(new Publish(Topics.Telemetry, new TelemetryPublished(profile, _rejected)));
        _policy.Tell(profile);
    }

    private HostProfile Profile(DateTimeOffset at)
    {
        var metrics = _profiler.Snapshot(at, _interval);
        if (_reportedStale.Count > 0 || _hostStale)
        {
            var builder = metrics.ToBuilder();
            foreach (var (series, estimate) in metrics)
                if (_hostStale || _reportedStale.Contains(series)) builder[series] = estimate with { Stale = true };
            metrics = builder.ToImmutable();
        }
        return new HostProfile(_host, at, PressureLevels.Of(metrics), metrics);
    }

    private void CheckStale()
    {
        var now = Context.System.Scheduler.Now;
        if (_hostStale || now - _lastSampleAt <= _interval * _config.StaleAfterIntervals) return;
        _hostStale = true;
        var profile = Profile(now);
        _log.Warning("Host {0}: no sample for {1:0.0} s; its metrics are stale, rules on them are skipped and levels hold",
            _host, (now - _lastSampleAt).TotalSeconds);
        _mediator.Tell(new Publish(Topics.NodeStale, new NodeStale(_host, true, [.. profile.Metrics.Keys.Order()], now)));
        _mediator.Tell(new Publish(Topics.Telemetry, new TelemetryPublished(profile, _rejected)));
        _policy.Tell(profile);
    }
}

/// <summary>Routes samples and reports to the profiler of their host, creating it on first use.</summary>
public sealed class ProfilerRegistryActor : ReceiveActor
{
    /// <summary>Props of the registry.</summary>
    public static Props Props(ProfilerConfig config, TimeSpan interval, IActorRef policy) =>
        Akka.Actor.Props.Create(() => new ProfilerRegistryActor(config, interval, policy));

    /// <summary>Creates the registry.</summary>
    public ProfilerRegistryActor(ProfilerConfig config, TimeSpan interval, IActorRef policy)
    {
        IActorRef For(string host)
        {
            var name = "profiler-" + Uri.EscapeDataString(host);
            var child = Context.Child(name);
            return child.IsNobody() ? Context.ActorOf(ProfilerActor.Props(host, config, interval, policy), name) : child;
        }

        Receive<Sample>(s => For(s.Host).Forward(s));
        Receive<ReportMetrics>(r => For(r.Host).Forward(r));
    }
}
