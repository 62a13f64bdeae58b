using Scarcity.Actors.Contracts;
using System.Diagnostics;

namespace Scarcity.Actors.Profiling;

/// <summary>
/// A constant-velocity Kalman filter of one series: state (level, trend per second), readings at any spacing.
/// Hand-unrolled 2x2 maths so that an update allocates nothing; the specs' <c>KalmanReference</c> is the same filter in
/// matrix form (MathNet.Numerics) and holds this one to it.
/// </summary>
/// <remarks>
/// <para>Model: <c>F = [[1, dt], [0, 1]]</c>, <c>H = [1, 0]</c>. Process noise is continuous white noise on the
/// trend's rate of change, <c>Q = q [[dt³/3, dt²/2], [dt²/2, dt]]</c>: integrating the same noise over two steps of
/// dt gives one step of 2dt, so the filter means the same thing whatever the sampling interval or its jitter.</para>
/// <para>Measurement noise R is estimated online: an exponentially weighted mean of <c>ν² − P⁻₀₀</c> (innovation
/// squared less its predicted part), floored. q follows R at the seeded ratio <c>KalmanQ / KalmanR</c>, so the
/// filter's bandwidth is the same for a utilisation and for a latency in milliseconds, noisy or clean.</para>
/// <para>An innovation beyond <see cref="InnovationGate"/> standard deviations is taken as a change of level (a step),
/// not as noise: it widens the level variance by <c>ν² / (gate² S)</c> so the level follows at once without kicking
/// the trend, and it enters the noise estimate clipped at the gate.</para>
/// <para>The first reading seeds the level with trend 0, so it raises no alarm.</para>
/// </remarks>
public struct KalmanTrendFilter
{
    /// <summary>Innovations beyond this many standard deviations are treated as a change of level.</summary>
    public const double InnovationGate = 3.0;

    /// <summary>Weight of the newest innovation in the noise estimate (about 50 readings, 12.5 s at 4 Hz).</summary>
    public const double NoiseAdaptation = 0.02;

    /// <summary>The noise estimate never falls below the seed <c>KalmanR</c> times this, so a clean series stays finite.</summary>
    public const double NoiseFloorFraction = 1e-6;

    private readonly double _q0;
    private readonly double _r0;
    private readonly double _significance;
    private double _level;
    private double _trend;
    private double _p00;
    private double _p01;
    private double _p11;
    private double _r;
    private DateTimeOffset _lastAt;
    private long _count;

    /// <summary>Creates an empty filter.</summary>
    /// <param name="kalmanQ">Process-noise seed (see <see cref="ProfilerConfig.KalmanQ"/>).</param>
    /// <param name="kalmanR">Measurement-noise seed (see <see cref="ProfilerConfig.KalmanR"/>).</param>
    /// <param name="trendSignificance">Standard deviations the trend must exceed to enter the forecast.</param>
    /// <exception cref="ArgumentOutOfRangeException">A seed is not positive and finite, or the significance is negative.</exception>
    public KalmanTrendFilter(double kalmanQ, double kalmanR, double trendSignificance = 2.0)
    {
        if (!(kalmanQ > 0 && double.IsFinite(kalmanQ))) throw new ArgumentOutOfRangeException(nameof(kalmanQ), kalmanQ, "must be positive and finite");
        if (!(kalmanR > 0 && double.IsFinite(kalmanR))) throw new ArgumentOutOfRangeException(nameof(kalmanR), kalmanR, "must be positive and finite");
        if (!(trendSignificance >= 0 && double.IsFinite(trendSignificance)))
            throw new ArgumentOutOfRangeException(nameof(trendSignificance), trendSignificance, "must be zero or more");
        _q0 = kalmanQ;
        _r0 = kalmanR;
        _significance = trendSignificance;
    }

    /// <summary>Creates an empty filter with the seeds and significance of <paramref name="config"/>.</summary>
    public KalmanTrendFilter(ProfilerConfig config)
        : this(config.KalmanQ, config.KalmanR, config.TrendSignificance)
    {
    }

    /// <summary>Readings folded in so far.</summary>
    public readonly long Count => _count;

    /// <summary>Estimated level; NaN before the first reading.</summary>
    public readonly double Level => _count == 0 ? double.NaN : _level;

    /// <summary>Estimated trend, units per second.</summary>
    public readonly double Trend => _trend;

    /// <summary>Variance of the level estimate.</summary>
    public readonly double LevelVariance => _p00;

    /// <summary>Variance of the trend estimate.</summary>
    public readonly double TrendVariance => _p11;

    /// <summary>Current estimate of the measurement-noise variance R.</summary>
    public readonly double MeasurementNoise => _r;

    /// <summary>Time of the last reading.</summary>
    public readonly DateTimeOffset LastAt => _lastAt;

    /// <summary>True while the trend exceeds the significance threshold, i.e. while it enters the forecast.</summary>
    public readonly bool IsTrendSignificant => _count > 1 && Math.Abs(_trend) > _significance * Math.Sqrt(_p11);

    /// <summary>
    /// Folds in one reading. Returns false, changing nothing, for a non-finite value or a reading older than the last.
    /// A reading at the same instant as the last is a second measurement of the same state.
    /// </summary>
    public bool Update(double value, DateTimeOffset at)
    {
        if (!double.IsFinite(value)) return false;
        if (_count == 0)
        {
            Seed(value, at);
            return true;
        }

        var dt = (at - _lastAt).Ticks / (double)TimeSpan.TicksPerSecond;
        if (dt < 0) return false;

        // Predict: x = F x, P = F P Fᵀ + Q.
        var q = ProcessNoise;
        var dt2 = dt * dt;
        var level = _level + _trend * dt;
        var p00 = _p00 + dt * (2 * _p01 + dt * _p11) + q * dt2 * dt / 3;
        var p01 = _p01 + dt * _p11 + q * dt2 / 2;
        var p11 = _p11 + q * dt;

        // Innovation, and the gate that tells a step from noise.
        var innovation = value - level;
        var innovation2 = innovation * innovation;
        var gate2 = InnovationGate * InnovationGate * (p00 + _r);
        var p00Gain = innovation2 > gate2 ? p00 * (innovation2 / gate2) : p00;

        // Update: K = P Hᵀ / S, x += K ν, P = (I − K H) P; R/S written out so a near-1 gain loses no precision.
        var s = p00Gain + _r;
        var k0 = p00Gain / s;
        var k1 = p01 / s;
        _level = level + k0 * innovation;
        _trend += k1 * innovation;
        _p00 = p00Gain * _r / s;
        _p01 = p01 * _r / s;
        _p11 = p11 - k1 * p01;

        var r = (1 - NoiseAdaptation) * _r + NoiseAdaptation * (Math.Min(innovation2, gate2) - p00);
        _r = Math.Max(r, _r0 * NoiseFloorFraction);
        _lastAt = at;
        _count++;
        Debug.Assert(_p00 >= 0 && _p11 >= 0, "covariance lost positive definiteness");
        return true;
    }

    /// <summary>
    /// The forecast <paramref name="horizon"/> ahead: level + trend × horizon while the trend is significant,
    /// else the level. NaN before the first reading.
    /// </summary>
    public readonly double Forecast(TimeSpan horizon) =>
        IsTrendSignificant ? _level + _trend * horizon.TotalSeconds : Level;

    /// <summary>Standard deviation of the state propagated <paramref name="horizon"/> ahead (level and trend uncertainty plus process noise).</summary>
    public readonly double ForecastStdDev(TimeSpan horizon)
    {
        if (_count == 0) return double.NaN;
        var h = horizon.TotalSeconds;
        var variance = _p00 + h * (2 * _p01 + h * _p11) + ProcessNoise * h * h * h / 3;
        return Math.Sqrt(Math.Max(variance, 0));
    }

    /// <summary>
    /// Moves the time of the last reading to <paramref name="lastAt"/>, keeping level, trend and covariance: the clock that
    /// stamps the readings stepped, and the next reading is to be measured from here. Nothing before the first reading.
    /// </summary>
    public void Rebase(DateTimeOffset lastAt)
    {
        if (_count > 0) _lastAt = lastAt;
    }

    /// <summary>The filter's state, for a snapshot.</summary>
    public readonly KalmanState Export() => new(_level, _trend, _p00, _p01, _p11, _r, _lastAt, _count);

    /// <summary>Restores an exported state; the seeds and significance stay this filter's own.</summary>
    /// <exception cref="ArgumentException">The state has non-finite values or negative variances.</exception>
    public void Import(KalmanState state)
    {
        var problems = string.Join("; ", state.Validate());
        if (problems.Length > 0) throw new ArgumentException("Unusable Kalman state: " + problems, nameof(state));
        (_level, _trend, _p00, _p01, _p11, _r, _lastAt, _count) = state;
        if (_count == 0) _r = 0;
    }

    /// <summary>q, kept at the seeded ratio to the current noise estimate.</summary>
    private readonly double ProcessNoise => _q0 * (_r / _r0);

    private void Seed(double value, DateTimeOffset at)
    {
        if (_r0 == 0) throw new InvalidOperationException("A KalmanTrendFilter must be made with a constructor, not default.");
        // A series larger than 1 (latency in ms) starts at the same relative noise as a utilisation.
        _r = _r0 * Math.Max(1, value * value);
        _level = value;
        _trend = 0;
        _p00 = _r;
        _p01 = 0;
        _p11 = _r; // per s²: a trend prior as uncertain as one reading per second
        _lastAt = at;
        _count = 1;
    }
}
