using MathNet.Numerics.LinearAlgebra;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Profiling;

namespace Scarcity.Actors.Core.Tests.Profiling;

/// <summary>
/// <see cref="KalmanTrendFilter"/> written as the textbook matrix equations on MathNet.Numerics: the readable statement
/// of the model, and the oracle the specs hold the unrolled filter to. It allocates on every update (MathNet's 2x2
/// products do), so it has no place on the hot path; use it for verification and offline analysis.
/// </summary>
public sealed class KalmanReference
{
    private static readonly MatrixBuilder<double> M = Matrix<double>.Build;
    private static readonly Matrix<double> H = M.DenseOfArray(new double[,] { { 1, 0 } });
    private static readonly Matrix<double> I = M.DenseIdentity(2);

    private readonly double _q0;
    private readonly double _r0;
    private Vector<double> _x = Vector<double>.Build.Dense(2);
    private Matrix<double> _p = M.Dense(2, 2);
    private double _r;
    private DateTimeOffset _lastAt;

    /// <summary>Creates an empty filter with the same seeds as <see cref="KalmanTrendFilter(double, double, double)"/>.</summary>
    public KalmanReference(double kalmanQ, double kalmanR)
    {
        _q0 = kalmanQ;
        _r0 = kalmanR;
    }

    /// <summary>Readings folded in so far.</summary>
    public long Count { get; private set; }

    /// <summary>State vector (level, trend).</summary>
    public Vector<double> State => _x.Clone();

    /// <summary>State covariance.</summary>
    public Matrix<double> Covariance => _p.Clone();

    /// <summary>Measurement-noise estimate.</summary>
    public double MeasurementNoise => _r;

    /// <summary>Folds in one reading; same contract as <see cref="KalmanTrendFilter.Update"/>.</summary>
    public bool Update(double z, DateTimeOffset at)
    {
        if (!double.IsFinite(z)) return false;
        if (Count == 0)
        {
            _r = _r0 * Math.Max(1, z * z);
            _x = Vector<double>.Build.DenseOfArray([z, 0]);
            _p = M.DenseOfArray(new[,] { { _r, 0 }, { 0, _r } });
            _lastAt = at;
            Count = 1;
            return true;
        }

        var dt = (at - _lastAt).Ticks / (double)TimeSpan.TicksPerSecond;
        if (dt < 0) return false;

        var q = _q0 * (_r / _r0);
        var f = M.DenseOfArray(new[,] { { 1, dt }, { 0, 1 } });
        var qm = q * M.DenseOfArray(new[,] { { dt * dt * dt / 3, dt * dt / 2 }, { dt * dt / 2, dt } });
        var xPred = f * _x;
        var pPred = f * _p * f.Transpose() + qm;

        var innovation = z - (H * xPred)[0];
        var predictedVariance = (H * pPred * H.Transpose())[0, 0];
        var gate2 = KalmanTrendFilter.InnovationGate * KalmanTrendFilter.InnovationGate * (predictedVariance + _r);
        var pGain = pPred.Clone();
        if (innovation * innovation > gate2) pGain[0, 0] *= innovation * innovation / gate2;

        var s = (H * pGain * H.Transpose())[0, 0] + _r;
        var k = pGain * H.Transpose() / s;
        _x = xPred + k.Column(0) * innovation;
        var p = (I - k * H) * pGain;
        _p = (p + p.Transpose()) / 2;

        var beta = KalmanTrendFilter.NoiseAdaptation;
        _r = Math.Max((1 - beta) * _r + beta * (Math.Min(innovation * innovation, gate2) - predictedVariance),
            _r0 * KalmanTrendFilter.NoiseFloorFraction);
        _lastAt = at;
        Count++;
        return true;
    }
}
