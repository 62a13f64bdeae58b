using System.Collections.Immutable;

namespace Scarcity.Actors.Contracts;

/// <summary>
/// One version of the fleet's policy, as the policy store (a cluster singleton, persistence id <c>policy-store</c>)
/// journals it: the persisted event, what <c>scarcity policies history</c> lists and what the store publishes.
/// </summary>
/// <param name="Version">The version number, from 1 (the configuration file's policy when the store was empty), increasing by 1.</param>
/// <param name="At">When the store recorded it (UTC).</param>
/// <param name="Author">Who applied it (<c>--author</c>, default user@machine; a claim, not proof), or <c>configuration</c> for version 1.</param>
/// <param name="Policy">The policy itself: the <c>Scarcity:Policy</c> section as canonical JSON (every setting, every rule).</param>
/// <param name="Diff">What changed against the previous version, one line per configuration key (<c>Cooldown: 00:00:05 -> 00:00:03</c>); empty for version 1.</param>
/// <param name="DryRun">True when the whole version is a dry run: it runs beside the newest live version, decides, journals and publishes, but never sends.</param>
/// <param name="RolledBackFrom">For a rollback, the version it copies; null otherwise.</param>
public sealed record PolicyVersion(
    int Version, DateTimeOffset At, string Author, string Policy, ImmutableArray<string> Diff, bool DryRun = false, int? RolledBackFrom = null)
    : IScarcityMessage
{
    /// <summary>The diff in a few words for a table: its first two lines and how many more.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Summary => Diff.IsDefaultOrEmpty
        ? (RolledBackFrom is { } from ? $"rollback to v{from}: no change" : "initial")
        : (RolledBackFrom is { } f ? $"rollback to v{f}: " : "") + string.Join("; ", Diff.Take(2)) + (Diff.Length > 2 ? $"; +{Diff.Length - 2} more" : "");
}

/// <summary>
/// What governs now: the newest live version and, when the newest version is a dry run, that candidate beside it.
/// Published by the policy store on <see cref="PolicyTopics.Versions"/> after each new version, and the answer to
/// <see cref="GetCurrentPolicy"/>.
/// </summary>
/// <param name="Live">The newest version not marked dry-run (the newest version when every version is).</param>
/// <param name="Candidate">The newest version when it is a dry run and newer than <paramref name="Live"/>; null otherwise.</param>
public sealed record CurrentPolicy(PolicyVersion Live, PolicyVersion? Candidate) : IScarcityMessage;

/// <summary>Asks the policy store for <see cref="CurrentPolicy"/> (every governor node asks at start and then every 10 s).</summary>
public sealed record GetCurrentPolicy : IScarcityMessage
{
    /// <summary>The one instance.</summary>
    public static readonly GetCurrentPolicy Instance = new();
}

/// <summary>
/// Asks for recorded policy versions, oldest first; answered by <see cref="PolicyVersions"/> (or <see cref="OperationFailed"/>
/// when the store does not answer). What <c>scarcity policies history</c>, <c>diff</c> and <c>replay</c> read.
/// </summary>
/// <param name="From">Only versions at or above this number; null: from 1.</param>
/// <param name="To">Only versions at or below this number; null: to the newest.</param>
public sealed record GetPolicyVersions(int? From = null, int? To = null) : IScarcityMessage;

/// <summary>The answer to <see cref="GetPolicyVersions"/>.</summary>
/// <param name="Versions">Oldest first.</param>
/// <param name="Current">The newest version number (0 before the store has recovered).</param>
public sealed record PolicyVersions(ImmutableArray<PolicyVersion> Versions, int Current) : IScarcityMessage;

/// <summary>
/// Records a new version from a policy file (<c>scarcity policies apply</c>); needs the operator token and is journaled as an
/// <see cref="OperatorAction"/>. Answered by <see cref="PolicyApplied"/>, <see cref="PolicyRejected"/> or <see cref="OperationFailed"/>.
/// </summary>
/// <param name="Policy">The <c>Scarcity:Policy</c> section as JSON (the CLI sends the validated file's section in canonical form).</param>
/// <param name="Author">Who applies it.</param>
/// <param name="Credential">The operator's credential.</param>
public sealed record ApplyPolicy(string Policy, string Author, OperatorCredential? Credential = null) : IScarcityMessage, IOperatorCommand;

/// <summary>
/// Records a new version equal to version <paramref name="Version"/> (<c>scarcity policies rollback</c>); needs the operator
/// token. Answered by <see cref="PolicyApplied"/>, <see cref="PolicyRejected"/> (no such version) or <see cref="OperationFailed"/>.
/// </summary>
/// <param name="Version">The version to copy.</param>
/// <param name="Author">Who rolls back.</param>
/// <param name="Credential">The operator's credential.</param>
public sealed record RollbackPolicy(int Version, string Author, OperatorCredential? Credential = null) : IScarcityMessage, IOperatorCommand;

/// <summary>A version the store recorded (or, when <paramref name="Unchanged"/>, the current one that already is that policy).</summary>
/// <param name="Version">The version.</param>
/// <param name="Unchanged">True when the policy equals the newest version: nothing was recorded.</param>
public sealed record PolicyApplied(PolicyVersion Version, bool Unchanged = false) : IScarcityMessage;

/// <summary>A policy the store refused; nothing changed.</summary>
/// <param name="Errors">Every problem, each naming its configuration key (<c>Scarcity:Policy:Policies:*:0:Threshold ...</c>).</param>
public sealed record PolicyRejected(ImmutableArray<string> Errors) : IScarcityMessage;

/// <summary>The pub-sub topic of policy versions.</summary>
public static class PolicyTopics
{
    /// <summary>Every new <see cref="CurrentPolicy"/>: what each governor node's policy holder follows.</summary>
    public const string Versions = "drg.policy";
}
