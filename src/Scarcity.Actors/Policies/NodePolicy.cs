using Akka.Actor;

namespace Scarcity.Actors.Policies;

/// <summary>
/// The policy this node's actuators run, as its <see cref="PolicyHolderActor"/> last adopted it (an Akka extension, one per
/// actor system). <see cref="Current"/> is null until the policy store has answered once; an actuator created before that
/// starts on its configuration file's policy and switches when <see cref="PolicyChanged"/> arrives on the event stream.
/// </summary>
public sealed class NodePolicy : IExtension
{
    private volatile ActivePolicy? _current;

    /// <summary>The adopted policy; null before the store answered.</summary>
    public ActivePolicy? Current => _current;

    /// <summary>This actor system's instance.</summary>
    public static NodePolicy Get(ActorSystem system) => system.WithExtension<NodePolicy, NodePolicyProvider>();

    /// <summary>Adopts <paramref name="policy"/> and tells every subscriber of the local event stream (<see cref="PolicyChanged"/>).</summary>
    public void Adopt(ActorSystem system, ActivePolicy policy)
    {
        _current = policy;
        system.EventStream.Publish(new PolicyChanged(policy));
    }
}

/// <summary>The provider of <see cref="NodePolicy"/>.</summary>
public sealed class NodePolicyProvider : ExtensionIdProvider<NodePolicy>
{
    /// <inheritdoc />
    public override NodePolicy CreateExtension(ExtendedActorSystem system) => new();
}

/// <summary>A new policy on this node (local event stream only, never on the wire).</summary>
/// <param name="Policy">What governs now.</param>
public sealed record PolicyChanged(ActivePolicy Policy) : INoSerializationVerificationNeeded;
