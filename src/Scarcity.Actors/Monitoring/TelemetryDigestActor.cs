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
/// </summary>
public sealed class TelemetryDigestActor : ReceiveActor, IWithTimers
{
    /// <summary>
    /// Series per digest message (about 220 bytes each on the wire), so that one stays well under the transport's frame
    /// size (128 kB by default); a host with more series than this travels alone.
    /// </summary>
    public const int MaxSeriesPerDigest = 300;

    private sealed class Flush : INoSerializationVerificationNeeded
    {
        public static readonly Flush Instance = new();
    }

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
        _mediator = DistributedPubSub.Get(Context.System).Mediator;
        _node = Cluster.Get(Context.System).SelfAddress.ToString();
        Receive<TelemetryPublished>(t =>
        {
            // Out-of-order delivery never replaces a newer profile with an older one.
            if (!_latest.TryGetValue(t.Profile.Host, out var known) || known.Profile.At <= t.Profile.At) _latest[t.Profile.Host] = t;
        });
        Receive<Flush>(_ => Publish());
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
