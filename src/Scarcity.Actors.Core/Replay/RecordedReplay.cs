using System.Collections.Immutable;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Actuation;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Profiling;

namespace Scarcity.Actors.Replay;

/// <summary>A level change a replay decided, as the actuator would have journaled it.</summary>
/// <param name="Subsystem">The subsystem.</param>
/// <param name="Host">Its host.</param>
/// <param name="Action">The action.</param>
/// <param name="PreviousLevel">The level before.</param>
/// <param name="Level">The level after.</param>
/// <param name="At">The profile's time (the sample's), as the live decision's <see cref="Decision.At"/>.</param>
/// <param name="Reason">The rule (or recovery) that decided.</param>
/// <param name="Declared">Whether the subsystem declared the action (a live decision for one it did not is journaled unsent).</param>
public sealed record ReplayDecision(string Subsystem, string Host, string Action, double PreviousLevel, double Level, DateTimeOffset At, ThrottleReason Reason, bool Declared);

/// <summary>One reading a replay profiled, for plots: the series' raw value and its profile at that time.</summary>
/// <param name="Host">The host.</param>
/// <param name="Series">The series (a subsystem's report labelled, <c>latency_ms{subsystem="engine"}</c>).</param>
/// <param name="At">Its time.</param>
/// <param name="Raw">The reading.</param>
public readonly record struct ReplayReading(string Host, string Series, DateTimeOffset At, double Raw);

/// <summary>What a replay found.</summary>
/// <param name="Decisions">Every level change, in time order.</param>
/// <param name="Records">Records replayed (registrations carried twice counted once).</param>
/// <param name="Subsystems">The subsystems governed, by name, with their host.</param>
public sealed record ReplayResult(IReadOnlyList<ReplayDecision> Decisions, long Records, IReadOnlyDictionary<string, string> Subsystems);

/// <summary>
/// Runs recorded telemetry (<see cref="TelemetryRecord"/>s, from <c>Scarcity:Recording</c> or a trace) through the same
/// core the actors run, faster than real time and without an actor system: a <see cref="HostProfiler"/> per host fed
/// every sample and report as the <c>ProfilerActor</c> feeds it, a profile at each sample (and at each evaluation the
/// profiler made on reports alone), and a <see cref="SubsystemPolicy"/> per registered subsystem evaluating it as the
/// <c>ActuatorActor</c> does (registration first, profiles not newer than the last evaluated dropped). With the live
/// configuration and a recording from the actors' start, it takes the decisions the actors took.
/// </summary>
public sealed class RecordedReplay
{
    private sealed class HostState(ProfilerConfig config, Action<string>? notice)
    {
        public HostProfiler Profiler { get; } = new(config, notice);
        public HashSet<string> Stale { get; } = new(StringComparer.Ordinal);
        public List<string> Subsystems { get; } = [];
    }

    private sealed class SubsystemState(SubsystemPolicy policy, TelemetryRecord registration)
    {
        public SubsystemPolicy Policy { get; } = policy;
        public TelemetryRecord Registration { get; set; } = registration;
        public LatestProfile Latest { get; } = new(); // the actuator's own rule for which profiles it evaluates
    }

    private readonly DRGConfig _config;
    private readonly Action<string>? _notice;
    private readonly Dictionary<string, HostState> _hosts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SubsystemState> _subsystems = new(StringComparer.Ordinal);
    private readonly List<ReplayDecision> _decisions = [];
    private long _records;

    /// <summary>A replay under <paramref name="config"/> (its Policy, Profiler and Sensor interval are what count).</summary>
    /// <param name="config">The candidate configuration, validated.</param>
    /// <param name="notice">Hears the profilers' notices (clock steps, readings out of order).</param>
    public RecordedReplay(DRGConfig config, Action<string>? notice = null)
    {
        _config = config;
        _notice = notice;
    }

    /// <summary>Called with each reading as it is profiled (for plots); none by default.</summary>
    public Action<ReplayReading>? OnReading { get; init; }

    /// <summary>Called after each subsystem evaluation with the subsystem, the time and its levels (for plots); none by default.</summary>
    public Action<string, DateTimeOffset, ImmutableDictionary<string, double>>? OnLevels { get; init; }

    /// <summary>Replays <paramref name="records"/> (time order per host; as a recording is read) and returns what it decided.</summary>
    public static ReplayResult Run(IEnumerable<TelemetryRecord> records, DRGConfig config, Action<string>? notice = null)
    {
        var replay = new RecordedReplay(config, notice);
        foreach (var r in records) replay.Apply(r);
        return replay.Result();
    }

    /// <summary>What was decided so far.</summary>
    public ReplayResult Result() =>
        new([.. _decisions], _records, _subsystems.ToDictionary(s => s.Key, s => s.Value.Registration.Host, StringComparer.Ordinal));

    /// <summary>Replays one record.</summary>
    public void Apply(TelemetryRecord record)
    {
        switch (record.Kind)
        {
            case RecordKind.Registration:
                Register(record);
                break;
            case RecordKind.Sample:
            {
                _records++;
                var host = Host(record.Host);
                foreach (var v in record.Values) Feed(host, record.Host, v.Metric, v.Value, record.At);
                if (!record.Stale.IsDefault) host.Stale.UnionWith(record.Stale);
                Evaluate(record.Host, host, record.At);
                break;
            }
            case RecordKind.Report:
            {
                _records++;
                var host = Host(record.Host);
                foreach (var v in record.Values)
                    Feed(host, record.Host, MetricNames.Labelled(v.Metric, MetricNames.SubsystemLabel, record.Subsystem), v.Value, record.At);
                break;
            }
            case RecordKind.Evaluated:
                _records++;
                Evaluate(record.Host, Host(record.Host), record.At);
                break;
        }
    }

    private HostState Host(string name)
    {
        if (!_hosts.TryGetValue(name, out var host)) _hosts[name] = host = new HostState(_config.Profiler, _notice is null ? null : n => _notice($"{name}: {n}"));
        return host;
    }

    private void Feed(HostState host, string hostName, string series, double value, DateTimeOffset at)
    {
        if (!double.IsFinite(value)) return; // counted and dropped by the profiler actor too
        host.Stale.Remove(series);
        if (host.Profiler.Update(series, value, at)) OnReading?.Invoke(new ReplayReading(hostName, series, at, value));
    }

    private void Register(TelemetryRecord registration)
    {
        // Each segment begins with the registrations known then: the same registration read twice is one.
        if (_subsystems.TryGetValue(registration.Subsystem, out var known) && known.Registration.At == registration.At && known.Registration.Host == registration.Host)
            return;
        _records++;
        if (known is null)
        {
            var policy = new SubsystemPolicy(registration.Subsystem, _config.Policy.RulesFor(registration.Subsystem), _config.Policy);
            _subsystems[registration.Subsystem] = known = new SubsystemState(policy, registration);
        }
        else if (known.Registration.Host != registration.Host)
        {
            Host(known.Registration.Host).Subsystems.Remove(registration.Subsystem);
            known.Latest.Reset(); // another host's profiles, on another clock
        }
        known.Registration = registration;
        var host = Host(registration.Host);
        if (!host.Subsystems.Contains(registration.Subsystem)) host.Subsystems.Add(registration.Subsystem);
        known.Policy.SetLatencyObjective(registration.LatencyObjectiveMs);
        foreach (var change in known.Policy.Registered(registration.At)) Decided(known, change, registration.At);
    }

    private void Evaluate(string hostName, HostState host, DateTimeOffset at)
    {
        if (host.Subsystems.Count == 0) return;
        var metrics = host.Profiler.Snapshot(at, _config.Sensor.Interval);
        if (host.Stale.Count > 0)
        {
            var builder = metrics.ToBuilder();
            foreach (var (series, estimate) in metrics)
                if (host.Stale.Contains(series)) builder[series] = estimate with { Stale = true };
            metrics = builder.ToImmutable();
        }
        var profile = new HostProfile(hostName, at, PressureLevel.Green, metrics); // the pressure is for views; no rule reads it
        foreach (var name in host.Subsystems)
        {
            var subsystem = _subsystems[name];
            if (!subsystem.Latest.Accept(profile)) continue; // no newer than the last evaluated (a clock step back is evaluated)
            foreach (var change in subsystem.Policy.Evaluate(metrics, at)) Decided(subsystem, change, at);
            OnLevels?.Invoke(name, at, subsystem.Policy.Levels);
        }
    }

    private void Decided(SubsystemState subsystem, LevelChange change, DateTimeOffset at) =>
        _decisions.Add(new ReplayDecision(subsystem.Registration.Subsystem, subsystem.Registration.Host, change.Action, change.PreviousLevel, change.Level,
            at, change.Reason, subsystem.Registration.Actions.Contains(change.Action)));
}
