using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Monitoring;

/// <summary>
/// The fleet view, on every node: follows <c>drg.telemetry.digest</c> (each governor node's newest profiles, once per
/// view interval) and <c>drg.subsystems.digest</c> (each governor node's changed subsystem statuses, batched per linger)
/// on the event bus, so any node answers <see cref="GetGovernorStatus"/> for every host and every subsystem; with debug
/// logging on it also follows <c>drg.node.stale</c> to log staleness changes. A host whose profiles stopped arriving for
/// the stale-after span shows stale even when nothing is left to say so (its node died). It also answers
/// <see cref="CountSubsystemsOnHost"/> (local only) from an index, for the registration front door's bound per host.
/// </summary>
public sealed class MonitorActor : ReceiveActor
{
    private readonly TimeSpan _staleAfter;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    // The newest profile of each host, its numbers overwritten in place (HostEntry): a view holds every host of the fleet
    // for a view interval or longer, and keeping each digest's profile objects instead kept 2,000 hosts' worth of them
    // (about 4 MB a second) alive across young collections, copied by each and promoted into the old generation, whose
    // collections then paused the node (the 2,000-host benchmark's decision latency tail, docs/performance-cluster.md).
    private readonly Dictionary<string, HostEntry> _hosts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SubsystemStatus> _subsystems = new(StringComparer.Ordinal);
    // The names of the subsystems of each host, from the statuses above: the registration front door's bound per host
    // asks it for every registration (a fleet starting up retries each registration every 2 s until answered), and
    // counting them in the whole view was O(fleet) per registration (18 % of the machine in a 2,000-host cold start).
    private readonly Dictionary<string, HashSet<string>> _namesOnHost = new(StringComparer.Ordinal);

    /// <summary>Props of the monitor; a host silent for <paramref name="staleAfter"/> shows stale.</summary>
    public static Props Props(TimeSpan staleAfter) => Akka.Actor.Props.Create(() => new MonitorActor(staleAfter));

    /// <summary>Creates the monitor.</summary>
    public MonitorActor(TimeSpan staleAfter)
    {
        _staleAfter = staleAfter;
        Receive<TelemetryDigest>(d =>
        {
            var now = Context.System.Scheduler.Now;
            foreach (var t in d.Hosts) Update(t, now);
        });
        Receive<SubsystemDigest>(d =>
        {
            foreach (var s in d.Statuses) Update(s);
        });
        // The host's profiler logs the warning once, on its own node; every node's view repeating it would multiply it.
        Receive<NodeStale>(s =>
        {
            if (!_log.IsDebugEnabled) return;
            if (s.Stale) _log.Debug("Host {0} is stale: no fresh samples for {1}", s.Host, string.Join(", ", s.Metrics));
            else _log.Debug("Host {0} is fresh again", s.Host);
        });
        Receive<SubscribeAck>(_ => { });
        Receive<GetGovernorStatus>(_ => Sender.Tell(View()));
        Receive<CountSubsystemsOnHost>(q => Sender.Tell(new SubsystemsOnHost(q.Host,
            _namesOnHost.TryGetValue(q.Host, out var names) ? names.Count - (names.Contains(q.Except) ? 1 : 0) : 0)));
    }

    private void Update(SubsystemStatus status)
    {
        if (_subsystems.TryGetValue(status.Name, out var known) && known.Host != status.Host
            && _namesOnHost.TryGetValue(known.Host, out var before) && before.Remove(status.Name) && before.Count == 0)
            _namesOnHost.Remove(known.Host);
        _subsystems[status.Name] = status;
        if (!_namesOnHost.TryGetValue(status.Host, out var names)) _namesOnHost[status.Host] = names = new HashSet<string>(StringComparer.Ordinal);
        names.Add(status.Name);
    }

    private void Update(TelemetryPublished telemetry, DateTimeOffset now)
    {
        var host = telemetry.Profile.Host;
        if (!_hosts.TryGetValue(host, out var entry)) _hosts[host] = entry = new HostEntry(host);
        // After a failover two nodes may briefly report the same host: the newer profile wins.
        else if (entry.At > telemetry.Profile.At) return;
        entry.Set(telemetry, now);
    }

    private GovernorStatus View()
    {
        var now = Context.System.Scheduler.Now;
        var hosts = _hosts.ToImmutableDictionary(h => h.Key, h => h.Value.Profile(stale: now - h.Value.ReceivedAt > _staleAfter), StringComparer.Ordinal);
        return new GovernorStatus(hosts, _subsystems.ToImmutableDictionary(), _hosts.Values.Sum(h => h.RejectedValues));
    }

    /// <summary>
    /// One host's newest profile as plain fields and arrays that each update overwrites: the arrays of numbers hold no
    /// references, so the collector neither copies nor scans them; only a change of the host's series allocates. The
    /// view's <see cref="HostProfile"/> is built from it when asked.
    /// </summary>
    private sealed class HostEntry(string host)
    {
        private string[] _series = [];
        private Numbers[] _estimates = [];
        private PressureLevel _pressure;

        public DateTimeOffset At { get; private set; }
        public DateTimeOffset ReceivedAt { get; private set; }
        public long RejectedValues { get; private set; }

        public void Set(TelemetryPublished telemetry, DateTimeOffset receivedAt)
        {
            var profile = telemetry.Profile;
            (At, ReceivedAt, _pressure, RejectedValues) = (profile.At, receivedAt, profile.Pressure, telemetry.RejectedValues);
            if (_series.Length != profile.Metrics.Count)
                (_series, _estimates) = (new string[profile.Metrics.Count], new Numbers[profile.Metrics.Count]);
            var i = 0;
            foreach (var (series, e) in profile.Metrics)
            {
                // The name of a series usually arrives again in the next digest: the string already held is kept.
                if (!string.Equals(_series[i], series, StringComparison.Ordinal)) _series[i] = series;
                _estimates[i++] = new Numbers(e.Raw, e.Ema, e.Estimate, e.Trend, e.Forecast, e.ForecastStdDev, e.UpdatedAt, e.Stale);
            }
        }

        /// <summary>The profile as it arrived; with <paramref name="stale"/> (nothing heard for the stale-after span) every series shows stale.</summary>
        public HostProfile Profile(bool stale)
        {
            var metrics = ImmutableDictionary.CreateBuilder<string, MetricEstimate>(StringComparer.Ordinal);
            for (var i = 0; i < _series.Length; i++)
            {
                var e = _estimates[i];
                metrics[_series[i]] = new MetricEstimate(e.Raw, e.Ema, e.Estimate, e.Trend, e.Forecast, e.ForecastStdDev, e.UpdatedAt, e.Stale || stale);
            }
            return new HostProfile(host, At, _pressure, metrics.ToImmutable());
        }

        private readonly record struct Numbers(double Raw, double Ema, double Estimate, double Trend, double Forecast, double ForecastStdDev,
            DateTimeOffset UpdatedAt, bool Stale);
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        var mediator = DistributedPubSub.Get(Context.System).Mediator;
        foreach (var topic in new[] { Topics.TelemetryDigest, Topics.SubsystemDigest })
            mediator.Tell(new Subscribe(topic, Self));
        // Only for its debug lines: subscribed, every node would receive every stale notice of the fleet (thousands in a
        // saturated cold start) to drop it.
        if (_log.IsDebugEnabled) mediator.Tell(new Subscribe(Topics.NodeStale, Self));
    }
}

/// <summary>
/// Asks the local fleet view (<see cref="MonitorActor"/>) how many subsystems it knows on <paramref name="Host"/>, not
/// counting <paramref name="Except"/> (the one registering); answered with <see cref="SubsystemsOnHost"/>. Local only.
/// </summary>
public sealed record CountSubsystemsOnHost(string Host, string Except) : INoSerializationVerificationNeeded;

/// <summary>The answer to <see cref="CountSubsystemsOnHost"/>: <paramref name="Count"/> subsystems known on <paramref name="Host"/>.</summary>
public sealed record SubsystemsOnHost(string Host, int Count) : INoSerializationVerificationNeeded;
