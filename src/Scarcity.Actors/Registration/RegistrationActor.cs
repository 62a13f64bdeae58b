using Akka.Actor;
using Akka.Event;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Registration;

/// <summary>
/// The front door of registration (<c>/user/policy</c>, also a ClusterClient service): validates each
/// <see cref="RegisterSubsystem"/> and rejects a bad one with a <see cref="RegistrationRejected"/> that says what is wrong,
/// then hands it, and acks and status queries, to the subsystem's actuator entity wherever it lives in the cluster.
/// The rules run in the actuator entities (levels live with the subsystem, so they persist and move with it).
/// </summary>
public sealed class RegistrationActor : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();

    /// <summary>Its name under <c>/user</c>: <c>policy</c>, the path every subsystem and client version addresses.</summary>
    public const string Name = "policy";

    /// <summary>Props of the registration front door in front of the actuator shard region.</summary>
    public static Props Props(IActorRef actuators) => Akka.Actor.Props.Create(() => new RegistrationActor(actuators));

    /// <summary>Creates the registration front door.</summary>
    public RegistrationActor(IActorRef actuators)
    {
        Receive<RegisterSubsystem>(register =>
        {
            var error = Validate(register);
            if (error is null)
            {
                actuators.Forward(register);
                return;
            }
            _log.Warning("Rejected registration of '{0}' from {1}: {2}", register.Name, register.Ref?.Path.ToString() ?? "nobody", error);
            (register.Ref is null || register.Ref.IsNobody() ? Sender : register.Ref).Tell(new RegistrationRejected(register.Name ?? "", error));
        });
        Receive<ThrottleAck>(ack => actuators.Forward(ack));
        Receive<GetSubsystemStatus>(query => actuators.Forward(query));
    }

    private static string? Validate(RegisterSubsystem register)
    {
        if (string.IsNullOrWhiteSpace(register.Name)) return "the subsystem name is empty";
        if (register.Ref is null || register.Ref.IsNobody()) return "the registration carries no actor to send Throttles to";
        if (string.IsNullOrWhiteSpace(register.Host)) return $"subsystem '{register.Name}' gave no host";
        if (register.Actions.IsDefaultOrEmpty) return $"subsystem '{register.Name}' declared no actions";
        var bad = register.Actions.Where(a => !ActionNames.IsValid(a)).ToList();
        if (bad.Count > 0) return $"subsystem '{register.Name}' declared invalid action names: {string.Join(", ", bad.Select(b => $"'{b}'"))}";
        return null;
    }
}
