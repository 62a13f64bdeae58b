using Scarcity.Actors.Configuration;
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

    /// <summary>Folds in one reading. Returns false, changing nothing, for a non-finite value or one older than the last.</summary>
    public bool Update(double value, DateTimeOffset at)
    {
        if (!_filter.Update(value, at)) return false;
        _ema.Update(value);
        Raw = value;
        return true;
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
