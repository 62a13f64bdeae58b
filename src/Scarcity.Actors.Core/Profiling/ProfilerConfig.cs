using Scarcity.Actors.Configuration;
using static System.FormattableString;

namespace Scarcity.Actors.Profiling;

/// <summary>
/// Settings of the profiler (section <c>Scarcity:Profiler</c>): how each series is smoothed and forecast.
/// The defaults are tuned on the reference traces for utilisations sampled at 4 Hz.
/// </summary>
public sealed class ProfilerConfig : IValidatedConfig
{
    /// <summary>The configuration section these settings are bound from.</summary>
    public const string Section = "Scarcity:Profiler";

    /// <summary>Weight of the newest reading in the exponential moving average, in (0, 1].</summary>
    /// <value>Defaults to 0.3.</value>
    public double EmaAlpha { get; set; } = 0.3;

    /// <summary>
    /// Seed of the Kalman process noise: the spectral density of the trend's random walk (units²/s³) when the
    /// measurement noise equals <see cref="KalmanR"/>. The filter keeps the ratio <c>KalmanQ / KalmanR</c> as R is
    /// re-estimated, so that ratio sets how quickly the trend follows a change; smaller is steadier but slower.
    /// </summary>
    /// <value>Defaults to 1e-4.</value>
    public double KalmanQ { get; set; } = 1e-4;

    /// <summary>
    /// Seed of the measurement-noise variance R, for a series in 0..1 (about 0.0004 for a utilisation with 0.02 noise);
    /// a larger-scale series starts at the same relative noise. R is then estimated online from the innovations.
    /// </summary>
    /// <value>Defaults to 4e-4.</value>
    public double KalmanR { get; set; } = 4e-4;

    /// <summary>How far ahead each series is forecast.</summary>
    /// <value>Defaults to 5 seconds.</value>
    public TimeSpan ForecastHorizon { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The trend enters the forecast only while it exceeds this many standard deviations of its estimate, so noise
    /// on a plateau is not extrapolated into a false alarm.
    /// </summary>
    /// <value>Defaults to 2.0.</value>
    public double TrendSignificance { get; set; } = 2.0;

    /// <summary>A series without a reading for more than this many sampling intervals is stale: rules on it are skipped.</summary>
    /// <value>Defaults to 3.</value>
    public int StaleAfterIntervals { get; set; } = 3;

    /// <summary>
    /// A reading older than its series' last by more than this is taken as the wall clock stepping back (NTP): the series
    /// re-anchors on the new time, keeping its level and trend, and the reading is folded in one sampling step after the
    /// last. A reading older by this much or less is out of order: it is rejected, counted and said.
    /// </summary>
    /// <value>Defaults to 1 second: four samples at 4 Hz, larger than any reordering, smaller than the steps NTP makes.</value>
    public TimeSpan ClockStepTolerance { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A host's profiler state (every EMA and Kalman filter) is snapshotted every this many samples, and when sharding
    /// hands the entity off (a rebalance, a node leaving the cluster), so an entity that moves to another node continues
    /// its level and trend instead of starting over. The periodic snapshot serves a node that dies without a hand-off:
    /// the survivor then resumes from a state up to this many samples old (the filters catch up within a few samples).
    /// </summary>
    /// <value>
    /// Defaults to 240 (60 s at 4 Hz): a fleet of 500 hosts writes about 8 snapshots a second. (Before session 10: 40,
    /// 50 writes a second at 500 hosts, 5 % of a governor's CPU in the SQL plugin; docs/performance-cluster.md.)
    /// </value>
    public int SnapshotEverySamples { get; set; } = 240;

    /// <summary>Every problem with these settings, each naming its key; empty when they are usable.</summary>
    /// <param name="section">The configuration section the keys are reported under.</param>
    public IEnumerable<string> Validate(string section = Section)
    {
        if (!(EmaAlpha > 0 && EmaAlpha <= 1))
            yield return Invariant($"{section}:{nameof(EmaAlpha)} must be in (0, 1], was {EmaAlpha}");
        if (!(KalmanQ > 0 && double.IsFinite(KalmanQ)))
            yield return Invariant($"{section}:{nameof(KalmanQ)} must be positive and finite, was {KalmanQ}");
        if (!(KalmanR > 0 && double.IsFinite(KalmanR)))
            yield return Invariant($"{section}:{nameof(KalmanR)} must be positive and finite, was {KalmanR}");
        if (ForecastHorizon < TimeSpan.Zero)
            yield return Invariant($"{section}:{nameof(ForecastHorizon)} must not be negative, was {ForecastHorizon}");
        if (!(TrendSignificance >= 0 && double.IsFinite(TrendSignificance)))
            yield return Invariant($"{section}:{nameof(TrendSignificance)} must be zero or more (in standard deviations), was {TrendSignificance}");
        if (StaleAfterIntervals < 1)
            yield return Invariant($"{section}:{nameof(StaleAfterIntervals)} must be at least 1, was {StaleAfterIntervals}");
        if (ClockStepTolerance < TimeSpan.Zero)
            yield return Invariant($"{section}:{nameof(ClockStepTolerance)} must not be negative, was {ClockStepTolerance}");
        if (SnapshotEverySamples < 1)
            yield return Invariant($"{section}:{nameof(SnapshotEverySamples)} must be at least 1, was {SnapshotEverySamples}");
    }

    /// <summary>A copy, so that a profiler is not changed by later edits of the settings it was given.</summary>
    public ProfilerConfig Clone() => (ProfilerConfig)MemberwiseClone();
}
