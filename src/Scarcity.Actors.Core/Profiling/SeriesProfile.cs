using Scarcity.Actors.Configuration;
using System.Diagnostics;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Profiling;

/// <summary>
/// The profile of one series: last reading, EMA and Kalman level/trend/forecast. Updating it allocates nothing.
/// Not thread-safe: one owner (the host's profiler) feeds it.
/// </summary>
public sealed class SeriesProfile
{
    private readonly TimeSpan _horizon;
    private readonly int _staleAfterIntervals;
    private readonly TimeSpan _clockStepTolerance;
    private TimeSpan _step; // the last spacing of two readings, the nominal step across a clock step
    private Ema _ema;
    private KalmanTrendFilter _filter;

    /// <summary>Creates an empty profile of <paramref name="series"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="config"/> is not valid.</exception>
    public SeriesProfile(string series, ProfilerConfig config)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentNullException.ThrowIfNull(config);
        config.EnsureValid(ProfilerConfig.Section);
        Series = series;
        IsUtilisation = PressureLevels.IsUtilisation(series);
        _horizon = config.ForecastHorizon;
        _staleAfterIntervals = config.StaleAfterIntervals;
        _clockStepTolerance = config.ClockStepTolerance;
        _ema = new Ema(config.EmaAlpha);
        _filter = new KalmanTrendFilter(config);
    }

    /// <summary>The series name, possibly labelled.</summary>
    public string Series { get; }

    /// <summary>True when the series is a utilisation and so counts towards host pressure.</summary>
    public bool IsUtilisation { get; }

    /// <summary>Readings so far.</summary>
    public long Count => _filter.Count;

    /// <summary>The last reading; NaN before the first.</summary>
    public double Raw { get; private set; } = double.NaN;

    /// <summary>Exponential moving average; NaN before the first reading.</summary>
    public double Ema => _ema.IsSeeded ? _ema.Value : double.NaN;

    /// <summary>Kalman estimate of the level; NaN before the first reading.</summary>
    public double Estimate => _filter.Level;

    /// <summary>Kalman estimate of the trend, per second.</summary>
    public double Trend => _filter.Trend;

    /// <summary>
    /// Forecast at the configured horizon (the trend counts only while significant). Every governor metric is
    /// non-negative and a utilisation cannot pass 1, so the extrapolation is held inside those bounds.
    /// </summary>
    public double Forecast => Math.Clamp(_filter.Forecast(_horizon), 0, IsUtilisation ? 1 : double.MaxValue);

    /// <summary>Standard deviation of the forecast.</summary>
    public double ForecastStdDev => _filter.ForecastStdDev(_horizon);

    /// <summary>When the last reading was taken.</summary>
    public DateTimeOffset UpdatedAt => _filter.LastAt;

    /// <summary>The Kalman filter, read-only.</summary>
    public KalmanTrendFilter Filter => _filter;

    /// <summary>
    /// Folds in one reading. Returns false, changing nothing, for a non-finite value or one out of order (older than the
    /// last by at most <see cref="ProfilerConfig.ClockStepTolerance"/>); see <see cref="Fold"/>.
    /// </summary>
    public bool Update(double value, DateTimeOffset at) => Fold(value, at) is ReadingOutcome.Accepted or ReadingOutcome.ClockSteppedBack;

    /// <summary>
    /// Folds in one reading and says how it went. Readings are ordered on the series' own monotonic timeline: the wall
    /// time of its readings with every backward step larger than <see cref="ProfilerConfig.ClockStepTolerance"/> cut out.
    /// Across such a step the series re-anchors on the new time: level, trend and covariance are kept and the reading
    /// counts as one sampling step (the last spacing seen) after the previous one, so neither the step nor its size
    /// reaches the filter. A smaller backward step is a reading out of order and is rejected.
    /// </summary>
    public ReadingOutcome Fold(double value, DateTimeOffset at)
    {
        if (!double.IsFinite(value)) return ReadingOutcome.NonFinite;
        var outcome = ReadingOutcome.Accepted;
        if (Count > 0 && at < UpdatedAt)
        {
            if (UpdatedAt - at <= _clockStepTolerance) return ReadingOutcome.OutOfOrder;
            _filter.Rebase(at - _step);
            outcome = ReadingOutcome.ClockSteppedBack;
        }
        else if (Count > 0 && at > UpdatedAt)
        {
            _step = TimeSpan.FromTicks(Math.Min((at - UpdatedAt).Ticks, _clockStepTolerance.Ticks));
        }

        var accepted = _filter.Update(value, at);
        Debug.Assert(accepted, "a finite reading at or after the filter's last time is always folded in");
        _ema.Update(value);
        Raw = value;
        return outcome;
    }

    /// <summary>True when no reading arrived yet, or none for more than the configured number of <paramref name="interval"/>s before <paramref name="now"/>.</summary>
    public bool IsStale(DateTimeOffset now, TimeSpan interval) =>
        Count == 0 || now - UpdatedAt > interval * _staleAfterIntervals;

    /// <summary>The profile as the wire sees it.</summary>
    public MetricEstimate ToEstimate(DateTimeOffset now, TimeSpan interval) =>
        new(Raw, Ema, Estimate, Trend, Forecast, ForecastStdDev, UpdatedAt, IsStale(now, interval));

    /// <summary>The profile's state, for a snapshot.</summary>
    public SeriesState Export() => new(Raw, Ema, _filter.Export());

    /// <summary>Restores an exported state.</summary>
    /// <exception cref="ArgumentException">The Kalman state is unusable.</exception>
    public void Import(SeriesState state)
    {
        _filter.Import(state.Kalman);
        if (state.Kalman.Count == 0)
        {
            _ema = new Ema(_ema.Alpha);
            Raw = double.NaN;
            return;
        }

        _ema.Restore(double.IsFinite(state.Ema) ? state.Ema : state.Kalman.Level);
        Raw = state.Raw;
    }
}

/// <summary>What became of one reading offered to a <see cref="SeriesProfile"/>.</summary>
public enum ReadingOutcome
{
    /// <summary>Folded in.</summary>
    Accepted,
    /// <summary>Folded in after the wall clock stepped back: the series re-anchored on the new time.</summary>
    ClockSteppedBack,
    /// <summary>Rejected: NaN or infinite.</summary>
    NonFinite,
    /// <summary>Rejected: older than the series' last reading, by less than a clock step.</summary>
    OutOfOrder,
}
