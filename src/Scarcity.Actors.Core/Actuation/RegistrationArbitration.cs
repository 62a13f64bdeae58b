using System.Collections.Immutable;

namespace Scarcity.Actors.Actuation;

/// <summary>A registration of a subsystem's name as the arbitration sees it: the actor that would hold it, and what it declared.</summary>
/// <param name="Holder">The full path (address included, uid excluded) of the actor that receives the Throttles.</param>
/// <param name="Incarnation">That actor's uid: the same path with another uid is the actor stopped and created again.</param>
/// <param name="Host">The host it runs on.</param>
/// <param name="Priority">Its priority.</param>
/// <param name="Actions">The actions it declared, in its order.</param>
public sealed record SubsystemClaim(string Holder, long Incarnation, string Host, int Priority, ImmutableArray<string> Actions);

/// <summary>What the actuator does with a registration of its subsystem's name.</summary>
public enum RegistrationVerdict
{
    /// <summary>Another actor holds the name and is reachable: the registration is rejected; the name stays with the holder.</summary>
    Rejected,

    /// <summary>The holder registered again with nothing changed (a retry crossed the reply): reply again, nothing to persist.</summary>
    Renewed,

    /// <summary>A first registration, a changed one, or a takeover from a holder marked down: persist it, then reply.</summary>
    Accepted,
}

/// <summary>
/// Who may hold a subsystem's name. One live holder at a time: a registration from another actor (another path; a
/// process restarted on another port has another path) is rejected while the holder is reachable, and accepted once the
/// holder is marked down (DeathWatch, an unanswered probe). The holder itself may always register again, also after
/// a restart of its actor under the same path.
/// </summary>
public static class RegistrationArbitration
{
    /// <summary>The verdict on <paramref name="claim"/> given the <paramref name="current"/> holder (null when none) and whether it is reachable.</summary>
    public static RegistrationVerdict Decide(SubsystemClaim? current, bool currentReachable, SubsystemClaim claim)
    {
        ArgumentNullException.ThrowIfNull(claim);
        if (current is null) return RegistrationVerdict.Accepted;
        if (currentReachable && !string.Equals(current.Holder, claim.Holder, StringComparison.Ordinal)) return RegistrationVerdict.Rejected;
        return Unchanged(current, claim) ? RegistrationVerdict.Renewed : RegistrationVerdict.Accepted;
    }

    private static bool Unchanged(SubsystemClaim current, SubsystemClaim claim) =>
        string.Equals(current.Holder, claim.Holder, StringComparison.Ordinal) && current.Incarnation == claim.Incarnation
        && current.Host == claim.Host && current.Priority == claim.Priority && current.Actions.AsSpan().SequenceEqual(claim.Actions.AsSpan());
}
