namespace Scarcity.Actors.Profiling;

/// <summary>
/// Everything a <see cref="KalmanTrendFilter"/> knows, so that it can be snapshotted and restored elsewhere (a
/// failover keeps the level and trend instead of re-learning them).
/// </summary>
/// <param name="Level">Estimated level, in the series' unit.</param>
/// <param name="Trend">Estimated trend, units per second.</param>
/// <param name="P00">Variance of the level.</param>
/// <param name="P01">Covariance of level and trend.</param>
/// <param name="P11">Variance of the trend.</param>
/// <param name="R">Current estimate of the measurement-noise variance.</param>
/// <param name="LastAt">Time of the last reading.</param>
/// <param name="Count">Readings folded in so far; 0 means the filter is empty.</param>
public readonly record struct KalmanState(
    double Level, double Trend, double P00, double P01, double P11, double R, DateTimeOffset LastAt, long Count)
{
    /// <summary>Problems that make the state unusable (non-finite values, negative variances); empty when it is sound.</summary>
    public IEnumerable<string> Validate()
    {
        if (Count < 0) yield return $"Count must not be negative, was {Count}";
        if (Count == 0) yield break;
        if (!double.IsFinite(Level) || !double.IsFinite(Trend) || !double.IsFinite(P01))
            yield return "Level, Trend and P01 must be finite";
        if (!(P00 >= 0 && double.IsFinite(P00)) || !(P11 >= 0 && double.IsFinite(P11)))
            yield return "P00 and P11 must be finite and not negative";
        if (!(R > 0 && double.IsFinite(R))) yield return $"R must be positive and finite, was {R}";
    }
}
