using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.PublishSubscribe;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Monitoring;

/// <summary>
/// On each governor node (<c>/user/telemetry-digest</c>): keeps the newest <see cref="TelemetryPublished"/> of every
/// host profiled on this node and, once per view interval, publishes them on <c>drg.telemetry.digest</c>, which every
/// node's fleet view follows. A fleet of 500 hosts sampled at 4 Hz then costs each node a handful of messages a second
/// instead of 2,000 profiles; the per-sample <c>drg.telemetry</c> stays for whoever needs every profile.
/// <para>
/// It does the same for this node's actuators: the <see cref="SubsystemStatus"/>, <see cref="Decision"/> and
/// <see cref="RecentDecisions"/> they hand it are published on <c>drg.subsystems.digest</c> (<see cref="SubsystemDigest"/>)
/// <see cref="EventLinger"/> after the first of them (the newest status per subsystem, every decision in order), which
/// every node's fleet view and decision log and the budget owner follow: at 500 hosts a decision had cost about eight
/// remote messages (a decision to every node, a status at the decision and at the ack to every node), now each other
/// node gets one batch per linger.
/// </para>
/// </summary>
public sealed class TelemetryDigestActor : ReceiveActor, IWithTimers
{
    /// <summary>
    /// Series per digest message (about 55 bytes each in <c>telemetry-digest.b2</c>, plus each distinct series name once per
    /// message), so that one stays well under the transport's frame
    /// size (128 kB by default); a host with more series than this travels alone.
    /// </summary>
    public const int MaxSeriesPerDigest = 300;

    /// <summary>
    /// Entries (statuses and decisions) per subsystem digest message at most; a typical status or decision takes 100-400
    /// bytes on the wire.
    /// </summary>
    public const int MaxEventsPerDigest = 200;

    /// <summary>
    /// The estimated wire size of one subsystem digest message at most (<see cref="EstimatedBytes(SubsystemStatus)"/>):
    /// half the transport's frame (128,000 bytes), so that statuses with many skipped rules or decisions with many inputs
    /// still travel, in more messages, rather than being refused as oversized.
    /// </summary>
    public const int MaxEstimatedBytesPerDigest = 64_000;

    /// <summary>An upper estimate of a status's binary form: its strings (UTF-8, at most 3 bytes a character) and fixed fields.</summary>
    public static int EstimatedBytes(SubsystemStatus s) =>
        96 + 3 * (s.Name.Length + s.Host.Length + (s.JournalError?.Length ?? 0))
        + s.Levels.Sum(l => 16 + 3 * l.Key.Length) + s.Skipped.Sum(k => 8 + 3 * k.Length)
        + (s.Ineffective?.Sum(i => 16 + 3 * (i.Key.Length + i.Value.Length)) ?? 0)
        + (s.DryLevels?.Sum(l => 16 + 3 * l.Key.Length) ?? 0) + (s.Model is null ? 0 : 128 + 3 * s.Model.Action.Length);

    /// <summary>An upper estimate of a decision's binary form.</summary>
    public static int EstimatedBytes(Decision d) =>
        96 + 3 * (d.Subsystem.Length + d.Host.Length + d.Action.Length + d.Detail.Length + d.Reason.Rule.Length + d.Reason.Metric.Length + d.Reason.Signal.Length)
        + d.Inputs.Sum(i => 16 + 3 * i.Key.Length);

    /// <summary>
    /// How long the first subsystem event waits for others before its digest leaves: 100 ms, or the view interval if that is
    /// shorter. It bounds how much later than the event itself a fleet view or decision log on any node shows it.
    /// </summary>
    public static TimeSpan EventLinger(TimeSpan viewInterval) => viewInterval < TimeSpan.FromMilliseconds(100) ? viewInterval : TimeSpan.FromMilliseconds(100);

    private sealed class Flush : INoSerializationVerificationNeeded
    {
        public static readonly Flush Instance = new();
    }

    private sealed class FlushEvents : INoSerializationVerificationNeeded
    {
        public static readonly FlushEvents Instance = new();
    }

    // The newest status of each subsystem that changed since the last flush.
    private readonly Dictionary<string, SubsystemStatus> _statuses = new(StringComparer.Ordinal);
    private readonly List<Decision> _decisions = [];
    private readonly TimeSpan _linger;
    private bool _eventsDue;

    private readonly Dictionary<string, TelemetryPublished> _latest = new(StringComparer.Ordinal);
    private readonly TimeSpan _interval;
    private readonly IActorRef _mediator;
    private readonly string _node;

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props of the digest of this node, sent every <paramref name="interval"/>.</summary>
    public static Props Props(TimeSpan interval) => Akka.Actor.Props.Create(() => new TelemetryDigestActor(interval));

    /// <summary>Creates the digest.</summary>
    public TelemetryDigestActor(TimeSpan interval)
    {
        _interval = interval;
        _linger = EventLinger(interval);
        _mediator = DistributedPubSub.Get(Context.System).Mediator;
        _node = Cluster.Get(Context.System).SelfAddress.ToString();
        Receive<TelemetryPublished>(t =>
        {
            // Out-of-order delivery never replaces a newer profile with an older one.
            if (!_latest.TryGetValue(t.Profile.Host, out var known) || known.Profile.At <= t.Profile.At) _latest[t.Profile.Host] = t;
        });
        Receive<Flush>(_ => Publish());
        Receive<SubsystemStatus>(s =>
        {
            _statuses[s.Name] = s;
            EventsDue();
        });
        Receive<Decision>(d =>
        {
            _decisions.Add(d);
            EventsDue();
        });
        Receive<RecentDecisions>(r =>
        {
            _decisions.AddRange(r.Decisions);
            EventsDue();
        });
        Receive<FlushEvents>(_ => PublishEvents());
    }

    private void EventsDue()
    {
        if (_eventsDue) return;
        _eventsDue = true;
        Timers.StartSingleTimer("events", FlushEvents.Instance, _linger);
    }

    private void PublishEvents()
    {
        _eventsDue = false;
        var at = Context.System.Scheduler.Now;
        var statuses = ImmutableArray.CreateBuilder<SubsystemStatus>();
        var decisions = ImmutableArray.CreateBuilder<Decision>();
        var (entries, bytes) = (0, 0);
        // Makes room for one more entry of `size`: a message that would grow past a bound leaves first (a single entry
        // over the bound travels alone; the serializer's payload limit is the last word on it).
        void Room(int size)
        {
            if (entries > 0 && (bytes + size > MaxEstimatedBytesPerDigest || entries >= MaxEventsPerDigest)) Send();
            entries++;
            bytes += size;
        }
        void Send()
        {
            _mediator.Tell(new Publish(Topics.SubsystemDigest, new SubsystemDigest(_node, at, statuses.ToImmutable(), decisions.ToImmutable())));
            statuses.Clear();
            decisions.Clear();
            (entries, bytes) = (0, 0);
        }
        foreach (var status in _statuses.Values)
        {
            Room(EstimatedBytes(status));
            statuses.Add(status);
        }
        foreach (var decision in _decisions)
        {
            Room(EstimatedBytes(decision));
            decisions.Add(decision);
        }
        if (entries > 0) Send();
        _statuses.Clear();
        _decisions.Clear();
    }

    /// <inheritdoc />
    protected override void PreStart() => Timers.StartPeriodicTimer("flush", Flush.Instance, _interval);

    private void Publish()
    {
        if (_latest.Count == 0) return;
        var at = Context.System.Scheduler.Now;
        var chunk = ImmutableArray.CreateBuilder<TelemetryPublished>();
        var series = 0;
        foreach (var telemetry in _latest.Values)
        {
            var count = telemetry.Profile.Metrics.Count;
            if (chunk.Count > 0 && series + count > MaxSeriesPerDigest)
            {
                _mediator.Tell(new Publish(Topics.TelemetryDigest, new TelemetryDigest(_node, at, chunk.ToImmutable())));
                chunk.Clear();
                series = 0;
            }
            chunk.Add(telemetry);
            series += count;
        }
        _mediator.Tell(new Publish(Topics.TelemetryDigest, new TelemetryDigest(_node, at, chunk.ToImmutable())));
        _latest.Clear();
    }
}
