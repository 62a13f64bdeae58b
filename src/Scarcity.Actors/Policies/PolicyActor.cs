using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Scarcity.Actors.Actuation;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Policies;

/// <summary>
/// Holds the registry of governed subsystems and routes each host profile to the actuators of the subsystems on that
/// host; each actuator evaluates its own rules (levels live with the actuator, so they persist and move with it).
/// Rejects a bad registration with a <see cref="RegistrationRejected"/> that says what is wrong.
/// </summary>
public sealed class PolicyActor : ReceiveActor
{
    private readonly PolicyConfig _policy;
    private readonly ActuatorConfig _actuatorConfig;
    private readonly IActorRef _decisionLog;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, (string Host, IActorRef Actuator)> _subsystems = new(StringComparer.Ordinal);

    /// <summary>Props of the policy actor.</summary>
    public static Props Props(PolicyConfig policy, ActuatorConfig actuator, IActorRef decisionLog) =>
        Akka.Actor.Props.Create(() => new PolicyActor(policy, actuator, decisionLog));

    /// <summary>Creates the policy actor.</summary>
    public PolicyActor(PolicyConfig policy, ActuatorConfig actuatorConfig, IActorRef decisionLog)
    {
        _policy = policy;
        _actuatorConfig = actuatorConfig;
        _decisionLog = decisionLog;

        Receive<RegisterSubsystem>(Register);
        Receive<HostProfile>(profile =>
        {
            foreach (var (_, (host, actuator)) in _subsystems)
                if (host == profile.Host) actuator.Tell(profile);
        });
        Receive<ThrottleAck>(ack =>
        {
            if (_subsystems.TryGetValue(ack.Subsystem, out var s)) s.Actuator.Forward(ack);
        });
        Receive<GetSubsystemStatus>(query =>
        {
            if (_subsystems.TryGetValue(query.Subsystem, out var s)) s.Actuator.Forward(query);
            else Sender.Tell(new Status.Failure(new KeyNotFoundException($"no subsystem named '{query.Subsystem}' is registered")));
        });
        ReceiveAsync<GetGovernorStatus>(async _ =>
        {
            var sender = Sender;
            var statuses = await Task.WhenAll(_subsystems.Values.Select(s =>
                s.Actuator.Ask<SubsystemStatus>(new GetSubsystemStatus(""), TimeSpan.FromSeconds(3))
                    .ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null)));
            sender.Tell(new GovernorStatus(ImmutableDictionary<string, HostProfile>.Empty,
                statuses.Where(s => s is not null).ToImmutableDictionary(s => s!.Name, s => s!), 0));
        });
    }

    private void Register(RegisterSubsystem register)
    {
        var error = Validate(register);
        if (error is not null)
        {
            _log.Warning("Rejected registration of '{0}' from {1}: {2}", register.Name, register.Ref.Path, error);
            register.Ref.Tell(new RegistrationRejected(register.Name ?? "", error));
            return;
        }
        if (!_subsystems.TryGetValue(register.Name, out var entry))
        {
            var actuator = Context.ActorOf(ActuatorActor.Props(register.Name, _policy, _actuatorConfig, _decisionLog),
                "actuator-" + Uri.EscapeDataString(register.Name));
            entry = (register.Host, actuator);
        }
        _subsystems[register.Name] = (register.Host, entry.Actuator);
        entry.Actuator.Forward(register);
    }

    private string? Validate(RegisterSubsystem register)
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
