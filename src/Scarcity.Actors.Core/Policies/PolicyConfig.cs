using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies.Budgets;

namespace Scarcity.Actors.Policies;

/// <summary>How levels move. Every default works for a GPU inference host sampled at 4 Hz.</summary>
public sealed class PolicyConfig : IValidatedConfig
{
    /// <summary>The configuration section these settings are bound from.</summary>
    public const string Section = "Scarcity:Policy";

    /// <summary>Minimum time between two escalations of one (subsystem, action), and between two recovery steps. <value>5 s</value></summary>
    public TimeSpan Cooldown { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long every rule of an action must stay released before its level starts to recover. <value>10 s</value></summary>
    public TimeSpan RecoveryDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Additive recovery step per cooldown, towards 1. <value>0.1</value></summary>
    public double RecoveryStep { get; set; } = 0.1;

    /// <summary>
    /// Time between two recovery steps of one (subsystem, action); escalation is paced by <see cref="Cooldown"/> alone,
    /// so a recovery step never delays a needed cut. <value>5 s</value>
    /// </summary>
    public TimeSpan RecoveryInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The loop before issue 11: the cooldown between two cuts counts from any level change, a recovery step included
    /// (so a recovery step can delay a needed cut). <value>false</value>
    /// </summary>
    public bool RecoveryDelaysEscalation { get; set; }

    /// <summary>
    /// Sets <c>reduce_batch</c> from a learned model of VRAM against batch level and context length
    /// (<see cref="BatchResponseModel"/>) for a subsystem that reports <c>context_k</c>, once the model is confident: the
    /// largest level whose predicted VRAM stays under <see cref="LearnedVramLimit"/> with a margin, when cutting and when
    /// recovering; a subsystem that goes silent is taken as crashed (a hard limit at half its state, nothing recovers
    /// until it is back). The rules decide while the model is not confident. False: the rules alone. <value>true</value>
    /// </summary>
    public bool LearnBatchResponse { get; set; } = true;

    /// <summary>
    /// The VRAM fraction the learned <c>reduce_batch</c> model plans up to, before its margin (fit scatter plus the
    /// context's observed rise). The rule's own threshold (0.85 by default) stays the trigger of the fallback, which
    /// acts on a forecast; the model predicts the batch's own need, so it may plan closer to the card. In (0, 1]. <value>0.95</value>
    /// </summary>
    public double LearnedVramLimit { get; set; } = 0.95;

    /// <summary>
    /// The level a learned <c>reduce_batch</c> gets at its subsystem's first registration, before it has reported anything
    /// (what that registration reply carries, journalled as a decision): a full batch may not fit the first requests'
    /// context, and a process that runs out of memory in its first step has reported nothing to learn from. A queue raises
    /// it (one step at a time, bounded by the VRAM reserved), the model sets it once confident. 0.5 (the default) fits a
    /// context twice as long as a full batch does: on the scenario families of docs/control-quality.md it removes the
    /// crashes in a run's first step (walk-b, burst, most of steps). 1: start at the full batch, as before session 6.
    /// In (0, 1]. <value>0.5</value>
    /// </summary>
    public double LearnedInitialLevel { get; set; } = 0.5;

    /// <summary>
    /// Governs <c>throttle</c> by latency for a subsystem that reports <c>latency_ms</c> (<see cref="LatencyAdmission"/>),
    /// and makes a latency rule on <c>shed_load</c> the stronger step, taken only once <c>throttle</c> is at
    /// <see cref="MinLevel"/>. False: <c>throttle</c> follows its rules alone. <value>true</value>
    /// </summary>
    public bool LatencyAdmission { get; set; } = true;

    /// <summary>
    /// The latency objective of a subsystem that registers none (<c>RegisterSubsystem.LatencyObjectiveMs</c>).
    /// <value>500 ms</value>
    /// </summary>
    public TimeSpan LatencyObjective { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The fraction of the latency objective the admission aims at, in (0, 1]. <value>0.6</value></summary>
    public double LatencySetpoint { get; set; } = 0.6;

    /// <summary>
    /// The effect check: a rule whose action was cut this many times in a row without the rule's signal improving holds
    /// its level and is reported ineffective until it releases. 0: off. <value>2</value>
    /// </summary>
    public int IneffectiveAfterCuts { get; set; } = 2;

    /// <summary>The lowest level any escalation reaches. <value>0.1</value></summary>
    public double MinLevel { get; set; } = 0.1;

    /// <summary>The highest capacity multiplier <c>scale_up</c> asks for. <value>4</value></summary>
    public double MaxScaleUp { get; set; } = 4;

    /// <summary>Action names allowed besides the built-in ones (<c>drop_low_priority</c>, <c>flush_cache</c>, ...).</summary>
    public List<string> CustomActions { get; set; } = [];

    /// <summary>
    /// Dry run of the whole policy: applied at run time (<c>scarcity policies apply</c>), this version runs beside the newest
    /// live version for every subsystem; its decisions are journaled and published marked dry and never sent. <value>false</value>
    /// </summary>
    public bool DryRun { get; set; }

    /// <summary>
    /// Subsystems whose every rule runs dry (names as in <see cref="Policies"/>; <c>"*"</c>: every subsystem). No live rule
    /// is left on their actions, so a live level below 1 returns to 1 at once (as when a rule is removed). <value>empty</value>
    /// </summary>
    public List<string> DryRunSubsystems { get; set; } = [];

    /// <summary>True when every rule of <paramref name="subsystem"/> runs dry (the whole policy, or the subsystem, is marked dry-run).</summary>
    public bool IsDryRun(string subsystem) => DryRun || DryRunSubsystems.Contains("*") || DryRunSubsystems.Contains(subsystem);

    /// <summary>Priorities across subsystems that share a host or a GPU (<see cref="PriorityConfig"/>).</summary>
    public PriorityConfig Priorities { get; set; } = new();

    /// <summary>Rules per subsystem name; <c>"*"</c> applies to every subsystem. Empty: the three default rules for every subsystem.</summary>
    public Dictionary<string, List<PolicyRule>> Policies { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Fleet budgets: aggregate rules over many hosts selected by their labels, whose caps go to the subsystems on those
    /// hosts by priority (<see cref="FleetBudget"/>, docs/policies.md (Fleet budgets)). Empty: none.
    /// </summary>
    public List<FleetBudget> Budgets { get; set; } = [];

    /// <summary>The rules that govern <paramref name="subsystem"/>: its own and those of <c>"*"</c>.</summary>
    public IReadOnlyList<PolicyRule> RulesFor(string subsystem)
    {
        if (Policies.Count == 0) return PolicyRule.Defaults;
        var rules = new List<PolicyRule>();
        if (Policies.TryGetValue("*", out var all)) rules.AddRange(all);
        if (Policies.TryGetValue(subsystem, out var own)) rules.AddRange(own);
        return rules;
    }

    /// <summary>True when the governor understands <paramref name="action"/>.</summary>
    public bool IsKnownAction(string action) => ActionNames.BuiltIn.Contains(action) || CustomActions.Contains(action);

    /// <summary>Every problem with this configuration, each naming its key under <paramref name="section"/>.</summary>
    public IEnumerable<string> Validate(string section = Section)
    {
        if (Cooldown <= TimeSpan.Zero) yield return $"{section}:Cooldown must be positive, was {Cooldown}";
        if (RecoveryDelay < TimeSpan.Zero) yield return $"{section}:RecoveryDelay must not be negative, was {RecoveryDelay}";
        if (!(RecoveryStep > 0 && RecoveryStep <= 1)) yield return $"{section}:RecoveryStep must be in (0, 1], was {RecoveryStep}";
        if (!(MinLevel > 0 && MinLevel < 1)) yield return $"{section}:MinLevel must be in (0, 1), was {MinLevel}";
        if (RecoveryInterval <= TimeSpan.Zero) yield return $"{section}:RecoveryInterval must be positive, was {RecoveryInterval}";
        if (!(LearnedVramLimit > 0 && LearnedVramLimit <= 1)) yield return $"{section}:LearnedVramLimit must be a fraction in (0, 1], was {LearnedVramLimit}{PercentHint(LearnedVramLimit)}";
        if (!(LearnedInitialLevel > 0 && LearnedInitialLevel <= 1)) yield return $"{section}:LearnedInitialLevel must be a fraction in (0, 1], was {LearnedInitialLevel}{PercentHint(LearnedInitialLevel)}";
        if (LatencyObjective <= TimeSpan.Zero) yield return $"{section}:LatencyObjective must be positive, was {LatencyObjective}";
        if (!(LatencySetpoint > 0 && LatencySetpoint <= 1)) yield return $"{section}:LatencySetpoint must be a fraction in (0, 1], was {LatencySetpoint}{PercentHint(LatencySetpoint)}";
        if (IneffectiveAfterCuts < 0) yield return $"{section}:IneffectiveAfterCuts must not be negative, was {IneffectiveAfterCuts}";
        if (!(MaxScaleUp >= 1 && double.IsFinite(MaxScaleUp))) yield return $"{section}:MaxScaleUp must be >= 1, was {MaxScaleUp}";
        for (var i = 0; i < CustomActions.Count; i++)
            if (!ActionNames.IsValid(CustomActions[i]))
                yield return $"{section}:CustomActions:{i} '{CustomActions[i]}' is not a valid action name (lower-case letters, digits, '_')";

        for (var i = 0; i < DryRunSubsystems.Count; i++)
            if (string.IsNullOrWhiteSpace(DryRunSubsystems[i]))
                yield return $"{section}:DryRunSubsystems:{i} is empty: name a subsystem, or \"*\" for every subsystem";

        foreach (var problem in FleetBudget.ValidateAll(Budgets, $"{section}:Budgets", IsKnownAction)) yield return problem;
        foreach (var error in Priorities.Validate($"{section}:Priorities")) yield return error;
        foreach (var (subsystem, rules) in Policies)
        {
            if (string.IsNullOrWhiteSpace(subsystem)) yield return $"{section}:Policies has an empty subsystem name";
            for (var i = 0; i < rules.Count; i++)
                foreach (var error in ValidateRule(rules[i], $"{section}:Policies:{subsystem}:{i}"))
                    yield return error;
        }
    }

    private static string PercentHint(double value) =>
        value > 1 && value <= 100 ? FormattableString.Invariant($" (written in percent? {value} % is {value / 100})") : "";

    private IEnumerable<string> ValidateRule(PolicyRule rule, string key)
    {
        if (string.IsNullOrWhiteSpace(rule.Metric))
        {
            yield return $"{key}:Metric is missing";
        }
        else
        {
            var baseName = MetricNames.BaseName(rule.Metric);
            if (!MetricNames.Known.Contains(baseName))
                yield return $"{key}:Metric '{rule.Metric}' is not a known metric (known: {string.Join(", ", MetricNames.Known.Order())})";
            else if (MetricNames.IsFraction(baseName))
            {
                // A threshold of 0 on a fraction fires on any reading (or never, below): not a rule anyone means.
                if (!(rule.Threshold > 0 && rule.Threshold <= 1))
                    yield return $"{key}:Threshold {rule.Threshold} is out of range for '{rule.Metric}', a fraction in (0, 1]{PercentHint(rule.Threshold)}";
                if (rule.Release is { } r && !(r >= 0 && r <= 1))
                    yield return $"{key}:Release {r} is out of range for '{rule.Metric}', a fraction in [0, 1]{PercentHint(r)}";
            }
        }
        if (!double.IsFinite(rule.Threshold) || rule.Threshold < 0)
            yield return $"{key}:Threshold must be a finite, non-negative number, was {rule.Threshold}";
        if (rule.Release is { } release && (rule.Direction == RuleDirection.Above ? release > rule.Threshold : release < rule.Threshold))
            yield return $"{key}:Release {release} must be on the safe side of Threshold {rule.Threshold} (hysteresis)";
        if (string.IsNullOrWhiteSpace(rule.Action))
            yield return $"{key}:Action is missing";
        else if (!IsKnownAction(rule.Action))
            yield return $"{key}:Action '{rule.Action}' is not a known action (built-in: {string.Join(", ", ActionNames.BuiltIn.Order())}; add custom ones to Scarcity:Policy:CustomActions)";
        if (rule.Action == ActionNames.ScaleUp ? !(rule.Factor > 1 && double.IsFinite(rule.Factor)) : !(rule.Factor > 0 && rule.Factor < 1))
            yield return rule.Action == ActionNames.ScaleUp
                ? $"{key}:Factor must be above 1 for scale_up, was {rule.Factor}"
                : $"{key}:Factor must be in (0, 1), was {rule.Factor}";
        if (rule.Cooldown is { } c && c <= TimeSpan.Zero)
            yield return $"{key}:Cooldown must be positive, was {c}";
    }
}
