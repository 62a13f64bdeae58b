using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.FleetBench;

/// <summary>
/// <c>--collect S</c>: follows the fleet view's digests (<c>drg.telemetry.digest</c>) and every decision for S
/// seconds after a warm-up, and prints samples profiled per host against the samples due in the same span (from each
/// host's first and last profile seen in the window: a sample dropped anywhere, a sensor tick skipped included, shows as
/// missing), decisions, and sample-to-decision latency (decision seen here minus its sample time).
/// </summary>
internal sealed class BenchCollector : ReceiveActor, IWithTimers
{
    public ITimerScheduler Timers { get; set; } = null!;

    private sealed class Report : INoSerializationVerificationNeeded
    {
        public static readonly Report Instance = new();
    }

    private sealed class Begin : INoSerializationVerificationNeeded
    {
        public static readonly Begin Instance = new();
    }

    private sealed class HostCount(long samples, DateTimeOffset at)
    {
        public long FirstSamples { get; } = samples;
        public DateTimeOffset FirstAt { get; } = at;
        public long LastSamples { get; set; } = samples;
        public DateTimeOffset LastAt { get; set; } = at;
        public bool Restarted { get; set; }
    }

    private readonly Dictionary<string, HostCount> _hosts = new(StringComparer.Ordinal);
    private readonly List<double> _latenciesMs = [];
    private readonly List<int> _secondOf = [];
    private readonly TimeSpan _interval;
    private readonly TimeSpan _warmup;
    private bool _measuring;
    private DateTimeOffset _begin;

    public static Props Props(TimeSpan warmup, int seconds, TimeSpan interval) =>
        Akka.Actor.Props.Create(() => new BenchCollector(warmup, seconds, interval));

    public BenchCollector(TimeSpan warmup, int seconds, TimeSpan interval)
    {
        _interval = interval;
        _warmup = warmup;
        Receive<SubscribeAck>(_ => { });
        Receive<TelemetryDigest>(d =>
        {
            if (!_measuring) return;
            foreach (var t in d.Hosts) Count(t);
        });
        Receive<Decision>(d =>
        {
            if (!_measuring) return;
            var now = Context.System.Scheduler.Now;
            _latenciesMs.Add((now - d.At).TotalMilliseconds);
            _secondOf.Add((int)(now - _begin).TotalSeconds);
        });
        Receive<RecentDecisions>(_ => { });
        Receive<Begin>(_ =>
        {
            _measuring = true;
            _begin = Context.System.Scheduler.Now;
            Timers.StartSingleTimer("report", Report.Instance, TimeSpan.FromSeconds(seconds));
        });
        Receive<Report>(_ => Print());
        var mediator = DistributedPubSub.Get(Context.System).Mediator;
        mediator.Tell(new Subscribe(Topics.TelemetryDigest, Self));
        mediator.Tell(new Subscribe(Topics.Decisions, Self));
    }

    protected override void PreStart() => Timers.StartSingleTimer("begin", Begin.Instance, _warmup);

    private void Count(TelemetryPublished t)
    {
        if (!_hosts.TryGetValue(t.Profile.Host, out var count))
        {
            _hosts[t.Profile.Host] = new HostCount(t.SamplesProfiled, t.Profile.At);
            return;
        }
        if (t.Profile.At <= count.LastAt) return;
        if (t.SamplesProfiled < count.LastSamples) count.Restarted = true; // the profiler started over (moved or restarted)
        count.LastSamples = t.SamplesProfiled;
        count.LastAt = t.Profile.At;
    }

    private void Print()
    {
        _measuring = false;
        var elapsed = (Context.System.Scheduler.Now - _begin).TotalSeconds;
        var sorted = _latenciesMs.Order().ToArray();
        double P(double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        long profiled = 0, due = 0, missingMax = 0, missingHosts = 0;
        foreach (var count in _hosts.Values)
        {
            var counted = count.LastSamples - count.FirstSamples;
            // The samples between the first and the last profile seen, both excluded from the span's count.
            var expected = (long)Math.Round((count.LastAt - count.FirstAt) / _interval);
            profiled += counted;
            due += expected;
            var missing = expected - counted;
            if (missing > 1 || count.Restarted) missingHosts++;
            missingMax = Math.Max(missingMax, missing);
        }
        var restarted = _hosts.Values.Count(c => c.Restarted);
        // p99 per 10 s of the window, to tell a steady tail from a burst.
        var byTen = string.Join("/", _latenciesMs.Select((ms, i) => (Ms: ms, Ten: _secondOf[i] / 10)).GroupBy(x => x.Ten).OrderBy(g => g.Key)
            .Select(g => { var v = g.Select(x => x.Ms).Order().ToArray(); return v[Math.Min(v.Length - 1, (int)Math.Ceiling(0.99 * v.Length) - 1)].ToString("0"); }));
        Console.WriteLine(
            $"BENCH hosts={_hosts.Count} seconds={elapsed:0.0} samples_due={due} samples={profiled} " +
            $"hosts_missing={missingHosts} missing_max={missingMax} restarted={restarted} " +
            $"decisions={sorted.Length} p50_ms={P(0.50):0.0} p90_ms={P(0.90):0.0} p99_ms={P(0.99):0.0} max_ms={(sorted.Length == 0 ? double.NaN : sorted[^1]):0.0} p99_per_10s_ms={byTen}");
    }
}
