namespace Scarcity.Actors.Policies;

/// <summary>
/// The policy that governs a node now: the live version and, when the newest version is a dry run, that candidate beside it.
/// Which rules of a subsystem act (<see cref="LiveRulesFor"/>) and which run dry (<see cref="DryFor"/>).
/// </summary>
/// <param name="LiveVersion">The live version number (0: the configuration file's policy, before the policy store answered).</param>
/// <param name="Live">The live policy.</param>
/// <param name="CandidateVersion">The dry-run candidate's version number; null when there is none.</param>
/// <param name="Candidate">The dry-run candidate (a version marked <see cref="PolicyConfig.DryRun"/> newer than the live one); null when none.</param>
public sealed record ActivePolicy(int LiveVersion, PolicyConfig Live, int? CandidateVersion = null, PolicyConfig? Candidate = null)
{
    /// <summary>The rules that act on <paramref name="subsystem"/>: its live rules less those marked dry-run (none when the subsystem or the policy is).</summary>
    public IReadOnlyList<PolicyRule> LiveRulesFor(string subsystem) =>
        Live.IsDryRun(subsystem) ? [] : [.. Live.RulesFor(subsystem).Where(r => !r.DryRun)];

    /// <summary>
    /// The dry-run policy of <paramref name="subsystem"/>: the candidate's rules when there is a candidate, else the live
    /// version's rules with the dry-run ones included when any of them (or the subsystem, or the version) is marked dry-run;
    /// null when nothing runs dry for it.
    /// </summary>
    public DryPolicy? DryFor(string subsystem)
    {
        if (Candidate is not null) return new DryPolicy(CandidateVersion ?? 0, Candidate, Candidate.RulesFor(subsystem));
        var rules = Live.RulesFor(subsystem);
        return Live.IsDryRun(subsystem) || rules.Any(r => r.DryRun) ? new DryPolicy(LiveVersion, Live, rules) : null;
    }
}

/// <summary>What one subsystem runs dry.</summary>
/// <param name="Version">The policy version its rules come from.</param>
/// <param name="Config">That version's settings.</param>
/// <param name="Rules">Every rule the dry-run policy evaluates.</param>
public sealed record DryPolicy(int Version, PolicyConfig Config, IReadOnlyList<PolicyRule> Rules);
