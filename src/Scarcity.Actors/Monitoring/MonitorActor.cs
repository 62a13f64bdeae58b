using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Monitoring;

/// <summary>
/// The governor's view: follows <c>drg.telemetry</c> and <c>drg.node.stale</c> on the event bus (so it sees every host
/// that publishes, on any node) and answers <see cref="GetGovernorStatus"/> with every host and every subsystem.
/// </summary>
public sealed class MonitorActor : ReceiveActor
{
    private readonly IActorRef _policy;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, TelemetryPublished> _hosts = new(StringComparer.Ordinal);

    /// <summary>Props of the monitor; <paramref name="policy"/> answers for the subsystems.</summary>
    public static Props Props(IActorRef policy) => Akka.Actor.Props.Create(() => new MonitorActor(policy));

    /// <summary>Creates the monitor.</summary>
    public MonitorActor(IActorRef policy)
    {
        _policy = policy;
        Receive<TelemetryPublished>(t => _hosts[t.Profile.Host] = t);
        Receive<NodeStale>(s =>
        {
            if (s.Stale) _log.Warning("Host {0} is stale: no fresh samples for {1}", s.Host, string.Join(", ", s.Metrics));
            else _log.Info("Host {0} is fresh again", s.Host);
        });
        Receive<SubscribeAck>(_ => { });
        ReceiveAsync<GetGovernorStatus>(async q =>
        {
            var sender = Sender;
            var hosts = _hosts.ToImmutableDictionary(h => h.Key, h => h.Value.Profile);
            var rejected = _hosts.Values.Sum(h => h.RejectedValues);
            try
            {
                var subsystems = await _policy.Ask<GovernorStatus>(q, TimeSpan.FromSeconds(5));
                sender.Tell(new GovernorStatus(hosts, subsystems.Subsystems, rejected));
            }
            catch (Exception e)
            {
                _log.Warning("Subsystem states unavailable: {0}", e.Message);
                sender.Tell(new GovernorStatus(hosts, ImmutableDictionary<string, SubsystemStatus>.Empty, rejected));
            }
        });
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        var mediator = DistributedPubSub.Get(Context.System).Mediator;
        mediator.Tell(new Subscribe(Topics.Telemetry, Self));
        mediator.Tell(new Subscribe(Topics.NodeStale, Self));
    }
}
