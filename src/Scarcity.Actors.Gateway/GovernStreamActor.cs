using System.Threading.Channels;
using Akka.Actor;
using Akka.Event;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Status = Grpc.Core.Status;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Gateway.V1;
using ContractAck = Scarcity.Actors.Contracts.ThrottleAck;
using ContractThrottle = Scarcity.Actors.Contracts.Throttle;

namespace Scarcity.Actors.Gateway;

/// <summary>
/// The subsystem of one Govern stream, inside this node's actor system: to the governor it is an ordinary subsystem
/// actor (the <see cref="RegisterSubsystem.Ref"/> its actuator DeathWatches and sends Throttles to). It registers until
/// an actuator answers, relays the answer and every Throttle to the stream's bounded queue, relays the client's acks to
/// the actuator that sent the Throttle and its reports to the profilers (once registered, itself the reporter), and
/// registers again when that actuator dies (failover), as the .NET client does.
/// The gRPC call stops it when the stream ends; when it stops for any other reason (the node shutting down) it ends the
/// stream with <c>UNAVAILABLE</c>.
/// </summary>
internal sealed class GovernStreamActor : ReceiveActor, IWithTimers
{
    private sealed class RegisterTick : INoSerializationVerificationNeeded
    {
        public static readonly RegisterTick Instance = new();
    }

    private const string RegisterTimer = "register";

    private readonly RegisterSubsystem _register;
    private readonly IActorRef _registration;
    private readonly IActorRef _profilers;
    private readonly ChannelWriter<GovernorMessage> _outbound;
    private readonly GatewayMetrics _metrics;
    private readonly TimeSpan _registerInterval;
    private readonly CancellationTokenSource _overflow;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private IActorRef? _actuator;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="register">The registration, its <see cref="RegisterSubsystem.Ref"/> ignored (the actor puts itself).</param>
    /// <param name="registration">The registration front door (<c>/user/policy</c>).</param>
    /// <param name="profilers">The profilers' gateway (<c>/user/profilers</c>), where reports go.</param>
    /// <param name="outbound">The stream's queue of governor messages.</param>
    /// <param name="metrics">The gateway's instruments.</param>
    /// <param name="registerInterval">How often to ask again while unanswered.</param>
    /// <param name="overflow">Cancelled when the queue overflows: the call stops writing what is queued and ends at once.</param>
    public static Props Props(RegisterSubsystem register, IActorRef registration, IActorRef profilers, ChannelWriter<GovernorMessage> outbound,
        GatewayMetrics metrics, TimeSpan registerInterval, CancellationTokenSource overflow) =>
        Akka.Actor.Props.Create(() => new GovernStreamActor(register, registration, profilers, outbound, metrics, registerInterval, overflow));

    public GovernStreamActor(RegisterSubsystem register, IActorRef registration, IActorRef profilers, ChannelWriter<GovernorMessage> outbound,
        GatewayMetrics metrics, TimeSpan registerInterval, CancellationTokenSource overflow)
    {
        _profilers = profilers;
        _overflow = overflow;
        _register = register with { Ref = Self };
        _registration = registration;
        _outbound = outbound;
        _metrics = metrics;
        _registerInterval = registerInterval;

        Receive<RegisterTick>(_ => _registration.Tell(_register));
        Receive<SubsystemRegistered>(OnRegistered);
        Receive<RegistrationRejected>(OnRejected);
        Receive<ContractThrottle>(OnThrottle);
        Receive<ContractAck>(ack => (_actuator ?? _registration).Tell(ack with { Subsystem = _register.Name }));
        Receive<ReportMetrics>(report =>
        {
            // The profiler profiles only the registered holder's reports: before Registered they would be rejected.
            if (_actuator is null) _metrics.ReportsDropped.WithLabels("unregistered").Inc();
            else _profilers.Tell(report with { Subsystem = _register.Name, Host = _register.Host, Reporter = Self });
        });
        Receive<Terminated>(t =>
        {
            if (_actuator is null || !t.ActorRef.Equals(_actuator)) return;
            _log.Warning("Gateway subsystem {0}: lost its actuator {1} (failover or restart); registering again", _register.Name, t.ActorRef.Path);
            _actuator = null;
            StartRegistering();
        });
    }

    protected override void PreStart() => StartRegistering();

    // A restart would register a stream whose queue PostStop already closed: an actor that failed ends its stream.
    protected override void PostRestart(Exception reason) => Context.Stop(Self);

    protected override void PostStop() =>
        _outbound.TryComplete(new RpcException(new Status(StatusCode.Unavailable, $"the governor's actor of subsystem '{_register.Name}' stopped (node shutting down); reconnect")));

    private void StartRegistering()
    {
        _registration.Tell(_register);
        Timers.StartPeriodicTimer(RegisterTimer, RegisterTick.Instance, _registerInterval);
    }

    private void OnRegistered(SubsystemRegistered registered)
    {
        Timers.Cancel(RegisterTimer);
        // Two attempts can cross: the same actuator's second answer carries the same levels, the client has them.
        if (Sender.Equals(_actuator)) return;
        if (_actuator is not null) Context.Unwatch(_actuator);
        _actuator = Sender;
        Context.Watch(_actuator);
        var message = new Registered { Name = registered.Name, LastSequence = registered.LastSequence };
        message.Levels.Add(registered.Levels);
        Send(new GovernorMessage { Registered = message }, "registered");
        _log.Info("Gateway subsystem {0} (host {1}) registered with {2}; levels {3}; last sequence {4}", _register.Name, _register.Host, Sender.Path,
            string.Join(", ", registered.Levels.Select(l => $"{l.Key}={l.Value:0.###}")), registered.LastSequence);
    }

    private void OnRejected(RegistrationRejected rejected)
    {
        if (_actuator is not null) return; // a late answer to an older attempt; registered since
        Timers.Cancel(RegisterTimer);
        _log.Warning("Gateway subsystem {0}: registration rejected: {1}", _register.Name, rejected.Reason);
        if (Send(new GovernorMessage { Rejected = new Rejected { Name = rejected.Name, Reason = rejected.Reason } }, "rejected"))
            _outbound.TryComplete();
        Context.Stop(Self);
    }

    private void OnThrottle(ContractThrottle throttle)
    {
        _actuator ??= Sender;
        // Acks go to the actuator that sent the Throttle, as the .NET client's do; after a failover that is the new one.
        if (!Sender.Equals(_actuator) && !Sender.IsNobody())
        {
            Context.Unwatch(_actuator);
            _actuator = Sender;
            Context.Watch(_actuator);
        }
        Send(new GovernorMessage
        {
            Throttle = new V1.Throttle
            {
                Action = throttle.Action,
                Level = throttle.Level,
                Sequence = throttle.Sequence,
                Reason = throttle.Reason.ToString(),
                Host = throttle.Host,
                IssuedAt = Timestamp.FromDateTimeOffset(throttle.IssuedAt),
            },
        }, "throttle");
    }

    private bool Send(GovernorMessage message, string kind)
    {
        if (_outbound.TryWrite(message))
        {
            _metrics.MessagesSent.WithLabels(kind).Inc();
            return true;
        }
        // The client does not read: Throttles are idempotent and resent until acked, but an unbounded queue is not.
        _log.Warning("Gateway subsystem {0}: its client reads nothing; ending the stream", _register.Name);
        if (_outbound.TryComplete(new RpcException(new Status(StatusCode.ResourceExhausted,
                $"subsystem '{_register.Name}' did not read its stream: the governor's queue for it is full; reconnect"))))
            _overflow.Cancel(); // what is queued would wait on the client's flow control: end the call now
        Context.Stop(Self);
        return false;
    }
}
