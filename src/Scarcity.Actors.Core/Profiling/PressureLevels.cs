using System.Collections.Frozen;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Profiling;

/// <summary>Host pressure from utilisations: GREEN &lt; 0.70 &lt;= YELLOW &lt; 0.85 &lt;= ORANGE &lt; 0.95 &lt;= RED.</summary>
public static class PressureLevels
{
    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> UtilisationLookup =
        MetricNames.Utilisations.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>Lower bound of <see cref="PressureLevel.Yellow"/>.</summary>
    public const double Yellow = 0.70;
    /// <summary>Lower bound of <see cref="PressureLevel.Orange"/>.</summary>
    public const double Orange = 0.85;
    /// <summary>Lower bound of <see cref="PressureLevel.Red"/>.</summary>
    public const double Red = 0.95;

    /// <summary>The level of one utilisation (a fraction); NaN, meaning nothing known, is Green.</summary>
    public static PressureLevel From(double utilisation) => utilisation switch
    {
        >= Red => PressureLevel.Red,
        >= Orange => PressureLevel.Orange,
        >= Yellow => PressureLevel.Yellow,
        _ => PressureLevel.Green,
    };

    /// <summary>
    /// The level of a profile: the worst fresh utilisation series (labelled ones included), taking the larger of its
    /// estimate and its forecast. Stale series and non-utilisations do not count.
    /// </summary>
    public static PressureLevel Of(IEnumerable<KeyValuePair<string, MetricEstimate>> metrics)
    {
        var worst = double.NaN;
        foreach (var (series, estimate) in metrics)
            if (IsUtilisation(series)) worst = Worse(worst, estimate);

        return From(worst);
    }

    /// <summary>True when <paramref name="series"/> is a utilisation (by its base name) and so counts towards pressure.</summary>
    public static bool IsUtilisation(string series)
    {
        var brace = series.IndexOf('{');
        return UtilisationLookup.Contains(brace < 0 ? series : series.AsSpan(0, brace));
    }

    internal static double Signal(double estimate, double forecast) => Max(estimate, forecast);

    // The worse of `worst` and a utilisation's estimate (the larger of its level and forecast); a stale one does not count.
    internal static double Worse(double worst, MetricEstimate estimate) =>
        estimate.Stale ? worst : Max(worst, Signal(estimate.Estimate, estimate.Forecast));

    // Math.Max propagates NaN; here NaN means "nothing yet" and loses to any number.
    internal static double Max(double a, double b) => double.IsNaN(a) || b > a ? b : a;
}
