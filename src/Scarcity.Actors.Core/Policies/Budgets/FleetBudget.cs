using System.Globalization;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Policies.Budgets;

/// <summary>How a budget combines the selected hosts' values.</summary>
public enum BudgetAggregate
{
    /// <summary>The sum over hosts (e.g. a rack's total GPU power).</summary>
    Sum,
    /// <summary>The mean over hosts.</summary>
    Mean,
    /// <summary>The largest host value.</summary>
    Max,
}

/// <summary>
/// One fleet budget (<c>Scarcity:Policy:Budgets:N</c>): an aggregate of one series over the hosts whose labels match
/// <see cref="Selector"/>, kept at or under <see cref="Limit"/> by capping <see cref="Action"/> of the subsystems on those
/// hosts, lowest priority first. Example: the total GPU power of the hosts labelled <c>rack=r12</c> at most 30000 W.
/// </summary>
public sealed class FleetBudget
{
    /// <summary>The budget's name, shown in reasons, the CLI and metrics: 1 to 64 of a-z, 0-9, '_', '-', '.'. Required.</summary>
    public string Name { get; set; } = "";

    /// <summary>The series aggregated, a known metric (<c>gpu_power_w</c>), possibly labelled. Required.</summary>
    public string Metric { get; set; } = "";

    /// <summary>sum, mean or max over the selected hosts. <value>Sum</value></summary>
    public BudgetAggregate Aggregate { get; set; } = BudgetAggregate.Sum;

    /// <summary>Which of the series' signals is aggregated. <value>Ema</value></summary>
    public SignalKind Signal { get; set; } = SignalKind.Ema;

    /// <summary>
    /// Host labels (<c>Scarcity:Sensor:Labels</c> of each host) that a host must all carry to be counted, e.g.
    /// <c>{"rack": "r12"}</c>. Empty: every host.
    /// </summary>
    public Dictionary<string, string> Selector { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The most the aggregate may be, in the metric's unit (W for <c>gpu_power_w</c>); finite and positive. Required.</summary>
    public double Limit { get; set; }

    /// <summary>The unit shown beside values; null: the metric's (<c>W</c> for <c>gpu_power_w</c>, none otherwise).</summary>
    public string? Unit { get; set; }

    /// <summary>The action capped: <c>throttle</c>, <c>reduce_batch</c>, <c>shed_load</c> or a custom action. <value>throttle</value></summary>
    public string Action { get; set; } = ActionNames.Throttle;

    /// <summary>Each cut multiplies the capped subsystem's cap by this, in (0, 1); a release divides by it. <value>0.5</value></summary>
    public double Step { get; set; } = 0.5;

    /// <summary>The lowest cap; a subsystem at it is left alone and the next in priority order is cut. In (0, 1). <value>0.1</value></summary>
    public double MinLevel { get; set; } = 0.1;

    /// <summary>How long after a cut the budget waits before the next cut (the same subsystem's or the next one's). Positive. <value>10 s</value></summary>
    public TimeSpan Hold { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long the aggregate must stay under the release line (<see cref="Limit"/> less <see cref="ReleaseMargin"/>)
    /// before a release step, and between two release steps. Positive. <value>30 s</value>
    /// </summary>
    public TimeSpan RecoveryHold { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The release line's distance under the limit, as a fraction of the limit, in [0, 1). <value>0.05</value></summary>
    public double ReleaseMargin { get; set; } = 0.05;

    /// <summary>
    /// A selected host whose newest value is older than this is left out of the aggregate and reported (never counted
    /// as zero); younger, its last value counts. Positive. <value>30 s</value>
    /// </summary>
    public TimeSpan ExcludeAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The unit in effect: <see cref="Unit"/>, or the metric's.</summary>
    public string EffectiveUnit => Unit ?? (MetricNames.BaseName(Metric) == MetricNames.GpuPowerW ? "W" : "");

    /// <summary>The aggregate under which the budget releases.</summary>
    public double ReleaseLine => Limit * (1 - ReleaseMargin);

    /// <summary>The selector as <c>key=value</c> pairs joined by commas, ordered by key; <c>*</c> when empty.</summary>
    public string SelectorText => Selector.Count == 0 ? "*" : string.Join(",", Selector.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Key}={s.Value}"));

    /// <summary>The rule's compact form used in reasons: <c>budget rack-r12-power: sum(gpu_power_w{rack=r12}) &lt;= 30000 W -&gt; throttle x0.5</c>.</summary>
    public string Display => string.Create(CultureInfo.InvariantCulture,
        $"budget {Name}: {Aggregate.ToString().ToLowerInvariant()}({Metric}{{{SelectorText}}}) <= {Limit:0.###}{(EffectiveUnit.Length > 0 ? " " + EffectiveUnit : "")} -> {Action} x{Step:0.###}");

    /// <summary>True when <paramref name="labels"/> carries every selector label with its value.</summary>
    public bool Selects(IReadOnlyDictionary<string, string> labels) =>
        Selector.All(s => labels.TryGetValue(s.Key, out var value) && value == s.Value);

    /// <summary>Every problem of this budget, each naming its key under <paramref name="key"/> (<c>Scarcity:Policy:Budgets:0</c>).</summary>
    public IEnumerable<string> Validate(string key, Func<string, bool> isKnownAction)
    {
        if (!SubsystemNames.IsValid(Name)) yield return $"{key}:Name '{Name}' is not a valid budget name ({SubsystemNames.Rule})";
        if (string.IsNullOrWhiteSpace(Metric)) yield return $"{key}:Metric is missing";
        else if (!MetricNames.Known.Contains(MetricNames.BaseName(Metric)))
            yield return $"{key}:Metric '{Metric}' is not a known metric (known: {string.Join(", ", MetricNames.Known.Order())})";
        if (!Enum.IsDefined(Aggregate)) yield return $"{key}:Aggregate must be sum, mean or max, was {Aggregate}";
        if (!(Limit > 0 && double.IsFinite(Limit))) yield return $"{key}:Limit must be a finite, positive number, was {Limit.ToString(CultureInfo.InvariantCulture)}";
        else if (MetricNames.IsFraction(Metric) && Aggregate != BudgetAggregate.Sum && Limit > 1)
            yield return $"{key}:Limit {Limit.ToString(CultureInfo.InvariantCulture)} is out of range for the {Aggregate.ToString().ToLowerInvariant()} of '{Metric}', a fraction in (0, 1]";
        foreach (var (label, value) in Selector)
            if (string.IsNullOrWhiteSpace(label) || string.IsNullOrEmpty(value))
                yield return $"{key}:Selector:{label} must name a label and a value (e.g. \"rack\": \"r12\")";
        if (string.IsNullOrWhiteSpace(Action)) yield return $"{key}:Action is missing";
        else if (Action == ActionNames.ScaleUp) yield return $"{key}:Action scale_up cannot be capped by a budget (it asks for capacity)";
        else if (!isKnownAction(Action))
            yield return $"{key}:Action '{Action}' is not a known action (built-in: {string.Join(", ", ActionNames.BuiltIn.Order())}; add custom ones to Scarcity:Policy:CustomActions)";
        if (!(Step > 0 && Step < 1)) yield return $"{key}:Step must be in (0, 1), was {Step.ToString(CultureInfo.InvariantCulture)}";
        if (!(MinLevel > 0 && MinLevel < 1)) yield return $"{key}:MinLevel must be in (0, 1), was {MinLevel.ToString(CultureInfo.InvariantCulture)}";
        if (Hold <= TimeSpan.Zero) yield return $"{key}:Hold must be positive, was {Hold}";
        if (RecoveryHold <= TimeSpan.Zero) yield return $"{key}:RecoveryHold must be positive, was {RecoveryHold}";
        if (!(ReleaseMargin >= 0 && ReleaseMargin < 1)) yield return $"{key}:ReleaseMargin must be in [0, 1), was {ReleaseMargin.ToString(CultureInfo.InvariantCulture)}";
        if (ExcludeAfter <= TimeSpan.Zero) yield return $"{key}:ExcludeAfter must be positive, was {ExcludeAfter}";
    }

    /// <summary>Every problem of a list of budgets (each budget's, and names used twice), keyed under <paramref name="section"/> (<c>Scarcity:Policy:Budgets</c>).</summary>
    public static IEnumerable<string> ValidateAll(IReadOnlyList<FleetBudget> budgets, string section, Func<string, bool> isKnownAction)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < budgets.Count; i++)
        {
            foreach (var problem in budgets[i].Validate($"{section}:{i}", isKnownAction)) yield return problem;
            if (budgets[i].Name.Length > 0 && !seen.TryAdd(budgets[i].Name, i))
                yield return $"{section}:{i}:Name '{budgets[i].Name}' is already the name of {section}:{seen[budgets[i].Name]}";
        }
    }
}
