using System.Globalization;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Policies;

/// <summary>Which way a rule's signal must cross its threshold to fire.</summary>
public enum RuleDirection
{
    /// <summary>Fires when the signal rises above the threshold (e.g. <c>vram_util &gt; 0.85</c>).</summary>
    Above,
    /// <summary>Fires when the signal falls below the threshold (e.g. <c>fps &lt; 25</c>).</summary>
    Below,
}

/// <summary>Which estimate of a metric a rule compares with its threshold.</summary>
public enum SignalKind
{
    /// <summary>The last reading.</summary>
    Raw,
    /// <summary>The exponential moving average.</summary>
    Ema,
    /// <summary>The Kalman estimate of the level.</summary>
    Estimate,
    /// <summary>The Kalman forecast at the horizon (acts before the threshold is reached).</summary>
    Forecast,
}

/// <summary>
/// A policy rule, as the old loop named it: when <see cref="Metric"/> crosses <see cref="Threshold"/>, the level of
/// <see cref="Action"/> is multiplied by <see cref="Factor"/>, at most once per cooldown, until the signal crosses back past
/// <see cref="Release"/>; then the level recovers to 1 by itself.
/// </summary>
/// <param name="Metric">Series name: a base name (<c>vram_util</c>: the subsystem's own labelled series if it reports one, else its host's), or a labelled series (<c>vram_util{gpu="3"}</c>).</param>
/// <param name="Threshold">Where the rule fires.</param>
/// <param name="Action">The action whose level it lowers (or raises, for <c>scale_up</c>).</param>
/// <param name="Factor">Multiplicative step: in (0, 1) to lower a level, above 1 for <c>scale_up</c>.</param>
/// <param name="Direction">Above or below the threshold.</param>
/// <param name="Priority">When several rules on one action are active, the highest priority decides.</param>
public sealed record PolicyRule(
    string Metric, double Threshold, string Action, double Factor, RuleDirection Direction = RuleDirection.Above, int Priority = 1)
{
    /// <summary>The signal compared; <see cref="SignalKind.Estimate"/> by default.</summary>
    public SignalKind Signal { get; init; } = SignalKind.Estimate;

    /// <summary>Hysteresis threshold: the rule is released only once the signal crosses back past it. Null: 5 % of the threshold inside it.</summary>
    public double? Release { get; init; }

    /// <summary>Minimum time between two escalations by this rule; null: the policy's cooldown.</summary>
    public TimeSpan? Cooldown { get; init; }

    /// <summary>
    /// Dry run: the rule's decisions are computed (by the subsystem's dry-run policy, which holds levels of its own),
    /// journaled and published marked dry, and never sent; the live levels ignore the rule. <value>false</value>
    /// </summary>
    public bool DryRun { get; init; }

    /// <summary>The release threshold in effect.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public double EffectiveRelease => Release ?? (Direction == RuleDirection.Above
        ? Threshold - 0.05 * Math.Abs(Threshold)
        : Threshold + 0.05 * Math.Abs(Threshold));

    /// <summary>True when <paramref name="value"/> is past the threshold.</summary>
    public bool Fires(double value) => Direction == RuleDirection.Above ? value > Threshold : value < Threshold;

    /// <summary>True when <paramref name="value"/> is back past the release threshold.</summary>
    public bool Releases(double value) => Direction == RuleDirection.Above ? value < EffectiveRelease : value > EffectiveRelease;

    /// <summary>The compact form used in reasons and logs: <c>vram_util forecast &gt; 0.85 -&gt; reduce_batch x0.5</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Metric} {Signal.ToString().ToLowerInvariant()} {(Direction == RuleDirection.Above ? ">" : "<")} {Threshold} -> {Action} x{Factor}{(DryRun ? " (dry-run)" : "")}");

    /// <summary>The three default rules of the product brief.</summary>
    public static IReadOnlyList<PolicyRule> Defaults { get; } =
    [
        new(MetricNames.VramUtil, 0.85, ActionNames.ReduceBatch, 0.5) { Signal = SignalKind.Forecast, Release = 0.80 },
        new(MetricNames.CpuUtil, 0.90, ActionNames.Throttle, 0.7) { Signal = SignalKind.Ema, Release = 0.80 },
        new(MetricNames.LatencyMs, 500, ActionNames.ShedLoad, 0.5) { Signal = SignalKind.Ema, Release = 400 },
    ];
}
