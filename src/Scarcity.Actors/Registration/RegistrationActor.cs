using Akka.Actor;
using Akka.DistributedData;
using Akka.Event;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Monitoring;
using Scarcity.Actors.Sharding;

namespace Scarcity.Actors.Registration;

/// <summary>
/// The front door of registration (<c>/user/policy</c>, also a ClusterClient service): validates each
/// <see cref="RegisterSubsystem"/> and rejects a bad one with a <see cref="RegistrationRejected"/> that says what is wrong,
/// then hands it, and acks and status queries, to the subsystem's actuator entity wherever it lives in the cluster.
/// The rules run in the actuator entities (levels live with the subsystem, so they persist and move with it).
/// Names follow <see cref="SubsystemNames.Rule"/>; with a bound per host, a registration of a new name on a host that
/// already has that many subsystems in the fleet view (<see cref="ServicePaths.Monitor"/>) is rejected. The view lags by
/// up to a view interval, so the bound holds against a flood, give or take the registrations of the last second; when
/// the view does not answer, the registration goes ahead.
/// In a cluster it follows the <see cref="SubsystemDirectory"/>: an ack or status query that names no host gets the
/// subsystem's host from it, and a registration on another host than the directory's goes to the actuator on the
/// directory's host first (<see cref="HandOverSubsystem"/>), which holds the subsystem's state.
/// </summary>
public sealed class RegistrationActor : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();

    /// <summary>Its name under <c>/user</c>: <c>policy</c>, the path every subsystem and client version addresses.</summary>
    public const string Name = "policy";

    /// <summary>The longest host name a registration may give (a DNS name's limit).</summary>
    public const int MaxHostLength = 253;

    /// <summary>Props of the registration front door in front of the actuator shard region.</summary>
    /// <param name="actuators">The actuator shard region (or proxy).</param>
    /// <param name="maxSubsystemsPerHost">The most subsystems one host may have registered; 0: no bound. <value>0</value></param>
    public static Props Props(IActorRef actuators, int maxSubsystemsPerHost = 0) =>
        Akka.Actor.Props.Create(() => new RegistrationActor(actuators, maxSubsystemsPerHost));

    // To itself only: never crosses the wire.
    private sealed record Counted(RegisterSubsystem Register, IActorRef Sender, int? OnHost) : INoSerializationVerificationNeeded;

    /// <summary>Creates the registration front door.</summary>
    public RegistrationActor(IActorRef actuators, int maxSubsystemsPerHost)
    {
        if (((ExtendedActorSystem)Context.System).Provider is Akka.Cluster.ClusterActorRefProvider)
            SubsystemDirectory.Subscribe(Context.System, Self);
        Receive<Changed>(changed =>
        {
            if (changed.Key.Equals(SubsystemDirectory.Key)) _hosts = SubsystemDirectory.HostsOf(changed.Get(SubsystemDirectory.Key));
        });
        Receive<RegisterSubsystem>(register =>
        {
            var error = Validate(register);
            if (error is not null)
            {
                Reject(register, Sender, error);
                return;
            }
            if (maxSubsystemsPerHost <= 0)
            {
                actuators.Tell(Routed(register), Sender);
                return;
            }
            var sender = Sender;
            Context.ActorSelection(ServicePaths.Monitor).Ask<SubsystemsOnHost>(new CountSubsystemsOnHost(register.Host, register.Name), TimeSpan.FromSeconds(3))
                .ContinueWith(t => new Counted(register, sender, t.IsCompletedSuccessfully ? t.Result.Count : null), TaskScheduler.Default)
                .PipeTo(Self);
        });
        Receive<Counted>(counted =>
        {
            if (counted.OnHost >= maxSubsystemsPerHost)
                Reject(counted.Register, counted.Sender,
                    $"host '{counted.Register.Host}' already has {counted.OnHost} registered subsystems, the most one host may have " +
                    $"(Scarcity:Operations:MaxSubsystemsPerHost = {maxSubsystemsPerHost})");
            else
                actuators.Tell(Routed(counted.Register), counted.Sender);
        });
        // Without a host in the message nor the directory (a subsystem of an older release not seen since): the actuator
        // of no host ("a||name") answers from the journal, or passes it on to the host the journal names.
        Receive<ThrottleAck>(ack => actuators.Forward(ack.Host is null ? ack with { Host = HostOf(ack.Subsystem) } : ack));
        Receive<GetSubsystemStatus>(query => actuators.Forward(query.Host is null ? query with { Host = HostOf(query.Subsystem) } : query));
    }

    private System.Collections.Immutable.ImmutableDictionary<string, string> _hosts = System.Collections.Immutable.ImmutableDictionary<string, string>.Empty;

    private string HostOf(string subsystem) => _hosts.TryGetValue(subsystem, out var host) ? host : "";

    // A registration on another host than the directory's goes to the actuator that holds the subsystem's state first.
    private object Routed(RegisterSubsystem register) =>
        _hosts.TryGetValue(register.Name, out var host) && host != register.Host ? new HandOverSubsystem(host, register) : register;

    private void Reject(RegisterSubsystem register, IActorRef sender, string error)
    {
        _log.Warning("Rejected registration of '{0}' from {1}: {2}", Shown(register.Name), register.Ref?.Path.ToString() ?? "nobody", error);
        (register.Ref is null || register.Ref.IsNobody() ? sender : register.Ref).Tell(new RegistrationRejected(register.Name ?? "", error));
    }

    // A rejected name may be anything a peer sent: a bounded excerpt goes to the log.
    private static string Shown(string? name) => name is null ? "" : name.Length > 80 ? name[..80] + "..." : name;

    private static string? Validate(RegisterSubsystem register)
    {
        if (string.IsNullOrWhiteSpace(register.Name)) return "the subsystem name is empty";
        if (!SubsystemNames.IsValid(register.Name))
            return $"the subsystem name '{Shown(register.Name)}' is invalid: a name has {SubsystemNames.Rule}";
        if (register.Ref is null || register.Ref.IsNobody()) return "the registration carries no actor to send Throttles to";
        if (string.IsNullOrWhiteSpace(register.Host)) return $"subsystem '{register.Name}' gave no host";
        if (register.Host.Length > MaxHostLength || register.Host.Any(char.IsControl))
            return $"subsystem '{register.Name}' gave an invalid host: at most {MaxHostLength} characters, no control characters";
        if (register.Actions.IsDefaultOrEmpty) return $"subsystem '{register.Name}' declared no actions";
        var bad = register.Actions.Where(a => !ActionNames.IsValid(a)).ToList();
        if (bad.Count > 0) return $"subsystem '{register.Name}' declared invalid action names: {string.Join(", ", bad.Select(b => $"'{b}'"))}";
        return null;
    }
}
