using System.Collections.Immutable;
using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Sensing;

namespace Scarcity.Actors.Host.Bench;

/// <summary>
/// <c>--simulate-hosts N</c>: this node samples N simulated hosts at the configured interval (each with its own
/// SensorActor and a governed subsystem that acknowledges every Throttle), so a cluster of such nodes carries a fleet.
/// </summary>
internal static class SimulatedFleet
{
    public static void Start(ActorSystem system, string prefix, int hosts, TimeSpan interval, IActorRef profilers, IActorRef policy)
    {
        var start = system.Scheduler.Now;
        for (var i = 0; i < hosts; i++)
        {
            var host = $"{prefix}-sim-{i:D3}";
            system.ActorOf(SensorActor.Props(host, new SyntheticHostSource(i, start), interval, profilers), $"sim-sensor-{i:D3}");
            var subsystem = system.ActorOf(Props.Create(() => new AckingSubsystem()), $"sim-engine-{i:D3}");
            policy.Tell(new RegisterSubsystem($"{host}-engine", host, 1, [ActionNames.ReduceBatch], subsystem), subsystem);
        }
    }

    private sealed class AckingSubsystem : ReceiveActor
    {
        public AckingSubsystem()
        {
            Receive<SubsystemRegistered>(_ => { });
            Receive<RegistrationRejected>(r => Console.Error.WriteLine($"simulated subsystem rejected: {r.Reason}"));
            Receive<Throttle>(t => Sender.Tell(new ThrottleAck(t.Subsystem, t.Sequence, true, "applied")));
        }
    }
}

/// <summary>
/// <c>--bench-collector S</c>: follows the fleet's telemetry and decisions for S seconds after a warm-up and prints
/// samples profiled per host, decisions, and sample-to-decision latency (decision seen here minus its sample time).
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

    private readonly Dictionary<string, long> _samples = new(StringComparer.Ordinal);
    private readonly List<double> _latenciesMs = [];
    private readonly List<double> _profileLatenciesMs = [];
    private readonly TimeSpan _interval;
    private readonly int _seconds;
    private bool _measuring;
    private DateTimeOffset _begin;

    public static Props Props(TimeSpan warmup, int seconds, TimeSpan interval) =>
        Akka.Actor.Props.Create(() => new BenchCollector(warmup, seconds, interval));

    public BenchCollector(TimeSpan warmup, int seconds, TimeSpan interval)
    {
        _interval = interval;
        _seconds = seconds;
        Receive<SubscribeAck>(_ => { });
        Receive<TelemetryPublished>(t =>
        {
            if (!_measuring) return;
            _samples[t.Profile.Host] = _samples.GetValueOrDefault(t.Profile.Host) + 1;
            _profileLatenciesMs.Add((Context.System.Scheduler.Now - t.Profile.At).TotalMilliseconds);
        });
        Receive<Decision>(d =>
        {
            if (_measuring) _latenciesMs.Add((Context.System.Scheduler.Now - d.At).TotalMilliseconds);
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
        mediator.Tell(new Subscribe(Topics.Telemetry, Self));
        mediator.Tell(new Subscribe(Topics.Decisions, Self));
        _warmup = warmup;
    }

    private readonly TimeSpan _warmup;

    protected override void PreStart() => Timers.StartSingleTimer("begin", Begin.Instance, _warmup);

    private void Print()
    {
        _measuring = false;
        var elapsed = (Context.System.Scheduler.Now - _begin).TotalSeconds;
        var expectedPerHost = elapsed / _interval.TotalSeconds;
        var sorted = _latenciesMs.Order().ToArray();
        double P(double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        var perHost = _samples.Values.ToArray();
        var profiles = _profileLatenciesMs.Order().ToArray();
        double Q(double q) => profiles.Length == 0 ? double.NaN : profiles[Math.Min(profiles.Length - 1, (int)Math.Ceiling(q * profiles.Length) - 1)];
        Console.WriteLine(
            $"BENCH hosts={_samples.Count} seconds={elapsed:0.0} samples={perHost.Sum()} " +
            $"per_host_min={(perHost.Length == 0 ? 0 : perHost.Min())} per_host_expected={expectedPerHost:0.0} " +
            $"decisions={sorted.Length} p50_ms={P(0.50):0.0} p90_ms={P(0.90):0.0} p99_ms={P(0.99):0.0} max_ms={(sorted.Length == 0 ? double.NaN : sorted[^1]):0.0} " +
            $"profile_p50_ms={Q(0.50):0.0} profile_p99_ms={Q(0.99):0.0}");
    }
}
