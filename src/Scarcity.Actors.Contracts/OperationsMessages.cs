using System.Collections.Immutable;

namespace Scarcity.Actors.Contracts;

/// <summary>
/// Asks the operations actor (<see cref="ServicePaths.Operations"/>) for the cluster's membership as the answering node
/// sees it; answered by <see cref="ClusterState"/>.
/// </summary>
public sealed record GetClusterState : IScarcityMessage
{
    /// <summary>The one instance.</summary>
    public static readonly GetClusterState Instance = new();
}

/// <summary>One member of the governor cluster.</summary>
/// <param name="Address">Its address (<c>akka.tcp://scarcity@10.0.0.5:4053</c>).</param>
/// <param name="Status">Its membership status: Joining, WeaklyUp, Up, Leaving, Exiting, Down, Removed.</param>
/// <param name="Roles">Its roles (<c>governor</c>, <c>sensor</c>).</param>
/// <param name="Reachable">False while the answering node's failure detector finds it unreachable.</param>
public sealed record ClusterMember(string Address, string Status, ImmutableArray<string> Roles, bool Reachable) : IScarcityMessage;

/// <summary>The cluster's membership, as one node sees it.</summary>
/// <param name="AnsweredBy">The address of the node that answered.</param>
/// <param name="Leader">The leader's address, or null while there is none.</param>
/// <param name="Members">Every member, ordered by address.</param>
/// <param name="Unreachable">Addresses of the members the answering node finds unreachable.</param>
public sealed record ClusterState(string AnsweredBy, string? Leader, ImmutableArray<ClusterMember> Members, ImmutableArray<string> Unreachable)
    : IScarcityMessage;

/// <summary>
/// Who asks for a cluster-changing operation: the operator token configured on the nodes
/// (<c>Scarcity:Operations:OperatorToken</c>) and a name for the log. Without the right token the operation is refused
/// (<see cref="OperationFailed"/>) and the attempt logged.
/// </summary>
/// <param name="Identity">Who the operator says they are (the CLI sends <c>--operator</c>, or <c>user@machine</c>); logged with the address the request came from, never trusted for access.</param>
/// <param name="Token">The operator token.</param>
public sealed record OperatorCredential(string Identity, string Token)
{
    /// <summary>Never prints the token.</summary>
    public override string ToString() => $"OperatorCredential {{ Identity = {Identity}, Token = *** }}";
}

/// <summary>A cluster-changing operation: it needs an <see cref="OperatorCredential"/>.</summary>
public interface IOperatorCommand
{
    /// <summary>The operator's credential; null: none given (refused).</summary>
    OperatorCredential? Credential { get; }
}

/// <summary>Asks the member at <paramref name="Address"/> to leave the cluster gracefully (its process then ends); answered by <see cref="OperationDone"/> or <see cref="OperationFailed"/>.</summary>
/// <param name="Address">The member's address.</param>
/// <param name="Credential">The operator's credential (required).</param>
public sealed record LeaveMember(string Address, OperatorCredential? Credential = null) : IScarcityMessage, IOperatorCommand;

/// <summary>Marks the member at <paramref name="Address"/> down (for a node known dead); answered by <see cref="OperationDone"/> or <see cref="OperationFailed"/>.</summary>
/// <param name="Address">The member's address.</param>
/// <param name="Credential">The operator's credential (required).</param>
public sealed record DownMember(string Address, OperatorCredential? Credential = null) : IScarcityMessage, IOperatorCommand;

/// <summary>Marks down every member the answering node finds unreachable; answered by <see cref="OperationDone"/> (possibly with no address).</summary>
/// <param name="Credential">The operator's credential (required).</param>
public sealed record DownUnreachable(OperatorCredential? Credential = null) : IScarcityMessage, IOperatorCommand
{
    /// <summary>Without a credential (refused by the nodes; for specs and older callers).</summary>
    public static readonly DownUnreachable Instance = new();
}

/// <summary>An operation the cluster accepted.</summary>
/// <param name="Operation"><c>leave</c>, <c>down</c> or <c>down-unreachable</c>.</param>
/// <param name="Addresses">The members it applies to.</param>
/// <param name="Detail">What happens next, in words.</param>
public sealed record OperationDone(string Operation, ImmutableArray<string> Addresses, string Detail) : IScarcityMessage;

/// <summary>A query or operation the governor could not carry out, and why.</summary>
/// <param name="Operation">What was asked (e.g. <c>leave</c>, <c>decisions</c>).</param>
/// <param name="Reason">Why it failed, in words an operator can act on.</param>
public sealed record OperationFailed(string Operation, string Reason) : IScarcityMessage;

/// <summary>Asks for the effective policy (rules per subsystem and the level settings); answered by <see cref="PolicySet"/>.</summary>
public sealed record GetPolicies : IScarcityMessage
{
    /// <summary>The one instance.</summary>
    public static readonly GetPolicies Instance = new();
}

/// <summary>One policy rule as the governor applies it.</summary>
/// <param name="Metric">The series watched (<c>vram_util</c>, <c>vram_util{gpu="3"}</c>).</param>
/// <param name="Signal">raw, ema, estimate or forecast.</param>
/// <param name="Direction">above or below.</param>
/// <param name="Threshold">Where the rule fires.</param>
/// <param name="Release">Where it is released (hysteresis), the effective value.</param>
/// <param name="Action">The action whose level it moves.</param>
/// <param name="Factor">Multiplicative step per cooldown.</param>
/// <param name="Priority">Higher decides when several rules of one action are active.</param>
/// <param name="Cooldown">The rule's own cooldown, or null for the policy's.</param>
/// <param name="Display">The compact form used in reasons (<c>vram_util forecast &gt; 0.85 -&gt; reduce_batch x0.5</c>).</param>
public sealed record PolicyRuleView(
    string Metric, string Signal, string Direction, double Threshold, double Release, string Action, double Factor, int Priority,
    TimeSpan? Cooldown, string Display) : IScarcityMessage;

/// <summary>How levels move, for every rule.</summary>
/// <param name="Cooldown">Minimum time between two escalations, and between two recovery steps.</param>
/// <param name="RecoveryDelay">How long every rule of an action stays released before recovery starts.</param>
/// <param name="RecoveryStep">Additive recovery step per cooldown.</param>
/// <param name="MinLevel">The lowest level an escalation reaches.</param>
/// <param name="MaxScaleUp">The highest capacity multiplier of <c>scale_up</c>.</param>
/// <param name="CustomActions">Actions allowed besides the built-in ones.</param>
public sealed record PolicySettings(
    TimeSpan Cooldown, TimeSpan RecoveryDelay, double RecoveryStep, double MinLevel, double MaxScaleUp, ImmutableArray<string> CustomActions)
    : IScarcityMessage;

/// <summary>The effective policy of the answering node.</summary>
/// <param name="Settings">The level settings.</param>
/// <param name="Defaults">True when no rule is configured and the three default rules apply to every subsystem.</param>
/// <param name="Rules">
/// Effective rules by subsystem key: <c>*</c> holds the rules of every subsystem; a named subsystem's entry holds what governs it
/// (the <c>*</c> rules followed by its own).
/// </param>
/// <param name="Version">The policy version these rules are (0: the answering node's configuration file, before the policy store answered).</param>
public sealed record PolicySet(PolicySettings Settings, bool Defaults, ImmutableDictionary<string, ImmutableArray<PolicyRuleView>> Rules, int Version = 0)
    : IScarcityMessage;

/// <summary>
/// Asks for decisions from the journal (the durable decision log); answered by <see cref="DecisionPage"/> or <see cref="OperationFailed"/>.
/// The answering node merges its own journal with every other member's, so a per-node SQLite file and a shared database both work.
/// </summary>
/// <param name="Since">Only decisions taken at or after this time; null: no lower bound.</param>
/// <param name="Subsystem">Only this subsystem's decisions; null: every subsystem's.</param>
/// <param name="Limit">At most this many, the newest ones.</param>
/// <param name="LocalOnly">Read this node's journal only (what members ask each other); false: the whole cluster.</param>
public sealed record GetDecisions(DateTimeOffset? Since, string? Subsystem, int Limit, bool LocalOnly = false) : IScarcityMessage;

/// <summary>One decision as the journal holds it.</summary>
/// <param name="PersistenceId">The actuator's persistence id (<c>actuator-&lt;subsystem&gt;</c>).</param>
/// <param name="SequenceNr">The event's sequence number in that journal.</param>
/// <param name="Decision">The decision.</param>
public sealed record JournaledDecision(string PersistenceId, long SequenceNr, Decision Decision) : IScarcityMessage;

/// <summary>The answer to <see cref="GetDecisions"/>.</summary>
/// <param name="Decisions">Oldest first, at most the limit asked for.</param>
/// <param name="Errors">Members whose journal could not be read, with why (the page holds the rest).</param>
public sealed record DecisionPage(ImmutableArray<JournaledDecision> Decisions, ImmutableArray<string> Errors) : IScarcityMessage;

/// <summary>
/// Asks for the whole fleet's view: the answering node asks every member's monitor (<see cref="GetGovernorStatus"/>) and
/// merges the answers (newest profile per host, the most advanced status per subsystem); answered by <see cref="GovernorStatus"/>.
/// </summary>
public sealed record GetFleetStatus : IScarcityMessage
{
    /// <summary>The one instance.</summary>
    public static readonly GetFleetStatus Instance = new();
}

/// <summary>
/// One cluster-changing operator command (<c>leave</c>, <c>down</c>, <c>down-unreachable</c>), allowed or refused, as the
/// node that received it recorded it in its journal (persistence id <c>operator-audit-HOST-PORT</c>) and its log.
/// </summary>
/// <param name="Operation">The command: <c>leave</c>, <c>down</c> or <c>down-unreachable</c>.</param>
/// <param name="Target">The member address it named, or <c>every unreachable member</c>.</param>
/// <param name="Operator">Who the operator said they were (<see cref="OperatorCredential.Identity"/>; a claim, not proof).</param>
/// <param name="Origin">The address the request came from (the CLI's actor system).</param>
/// <param name="Allowed">True when the operator token matched and the command was carried out.</param>
/// <param name="Detail">What was done, or why it was refused (never the token).</param>
/// <param name="At">When the node received it.</param>
public sealed record OperatorAction(string Operation, string Target, string Operator, string Origin, bool Allowed, string Detail, DateTimeOffset At)
    : IScarcityMessage;
