using MathNet.Numerics.LinearRegression;

namespace Scarcity.Actors.Policies;

/// <summary>A <see cref="BatchResponseModel"/>'s state, for persistence with the actuator entity and for display.</summary>
/// <param name="Samples">The fitted readings, oldest first: <c>(level × context, value)</c>.</param>
/// <param name="Intercept"><c>a</c>.</param>
/// <param name="Slope"><c>b</c>.</param>
/// <param name="Residual">Weighted residual standard deviation.</param>
/// <param name="Confidence">In [0, 1] (see <see cref="BatchResponseModel.Confidence"/>).</param>
/// <param name="Distrusted">How often its predictions were contradicted.</param>
public sealed record BatchModelState(IReadOnlyList<(double X, double Y)> Samples, double Intercept, double Slope, double Residual, double Confidence, int Distrusted);

/// <summary>
/// What <c>reduce_batch</c> does to VRAM, learned online: <c>vram ≈ a + b × level × context</c> (weights plus a KV cache
/// that grows with batch and context length), a weighted least-squares line (MathNet.Numerics) over the latest
/// <see cref="Window"/> readings, the newest weighing most (half weight after <see cref="HalfLife"/> readings), so it
/// follows a subsystem whose response drifts. Pure and deterministic; not thread-safe.
/// </summary>
/// <remarks>
/// Only readings that did not fall since the one before are fitted: an allocator grabs memory at once but returns it
/// slowly, so a falling reading after a cut tells what was held, not what the batch needs. A reading equal to the newest
/// kept is not kept again (a steady state would otherwise flush the spread out of the window).
/// </remarks>
public sealed class BatchResponseModel
{
    /// <summary>Readings kept for the fit.</summary>
    public const int Window = 240;

    /// <summary>Readings after which one weighs half as much as the newest.</summary>
    public const int HalfLife = 120;

    /// <summary>
    /// Readings needed before the model can be confident (and the count under which <see cref="Confidence"/> is scaled
    /// down). 6: a context that moves in steps gives few distinct readings (one per level and context), and with 12 the
    /// line stayed unconfident for minutes with a residual of 0.003, leaving the batch to the rules' ×0.5 cuts.
    /// </summary>
    public const int MinSamples = 6;

    /// <summary>The spread of <c>level × context</c> needed, relative to its mean, before a slope means anything.</summary>
    public const double MinSpread = 0.08;

    /// <summary>The largest residual standard deviation a confident model has.</summary>
    public const double MaxResidual = 0.03;

    /// <summary>The <see cref="Confidence"/> a model needs before it decides.</summary>
    public const double MinConfidence = 0.8;

    private readonly Queue<(double X, double Y)> _samples = new();
    private double _lastY = double.NaN;
    private (double X, double Y)? _newest;

    /// <summary>True when the fit has enough readings over a wide enough range, a positive slope, small residuals and a <see cref="Confidence"/> of at least <see cref="MinConfidence"/>.</summary>
    public bool Confident { get; private set; }

    /// <summary>
    /// How sure the fit is, in [0, 1]: one less the slope's relative standard error, scaled down while it has fewer than
    /// <see cref="MinSamples"/> readings; 0 before a slope can be fitted. Rises with readings that agree with the line.
    /// </summary>
    public double Confidence { get; private set; }

    /// <summary><c>a</c>: the value at level 0 (the weights).</summary>
    public double Intercept { get; private set; }

    /// <summary><c>b</c>: the value per unit of <c>level × context</c>.</summary>
    public double Slope { get; private set; }

    /// <summary>Weighted standard deviation of the fitted readings around the line.</summary>
    public double Residual { get; private set; }

    /// <summary>The largest <c>level × context</c> among the fitted readings (0 before any): how far the line is known.</summary>
    public double MaxObserved => _samples.Count == 0 ? 0 : _samples.Max(s => s.X);

    /// <summary>
    /// How far past <see cref="MaxObserved"/> a confident model may set the level, as a factor: a line fitted over a narrow
    /// range is wrong far from it (the allocator's reserved memory bends it), so a raise goes one checked step at a time.
    /// </summary>
    public const double TrustRegion = 1.2;

    /// <summary>The <see cref="Confidence"/> from which a model's line is trusted past <see cref="TrustRegion"/>.</summary>
    public const double TrustedConfidence = 0.95;

    /// <summary>Readings in the fit.</summary>
    public int Count => _samples.Count;

    /// <summary>How often a reading contradicted a confident prediction (see <see cref="Distrust"/>).</summary>
    public int Distrusted { get; private set; }

    /// <summary>The margin kept under a threshold for the fit's own scatter: twice the residual, at least 0.02.</summary>
    public double Margin => Math.Max(MinMargin, 2 * Residual);

    /// <summary>The smallest <see cref="Margin"/>.</summary>
    public const double MinMargin = 0.02;

    /// <summary>Folds in one reading <paramref name="value"/> taken at <paramref name="level"/> and <paramref name="context"/>.</summary>
    /// <param name="level">The level in effect, in (0, 1].</param>
    /// <param name="context">The context length, in thousands of tokens (&gt; 0).</param>
    /// <param name="value">The reading (a fraction of the card's memory).</param>
    /// <param name="fit">
    /// False for a reading that is not to be fitted (right after a level change it shows the allocator, not the batch): it
    /// still counts as the reading the next one is compared with, so that the first fitted reading after a cut, still
    /// falling towards what the smaller batch holds, is not taken for the batch's own (default true).
    /// </param>
    public void Observe(double level, double context, double value, bool fit = true)
    {
        if (!double.IsFinite(level) || !double.IsFinite(context) || !double.IsFinite(value) || context <= 0) return;
        var falling = Falling(value);
        _lastY = value;
        if (falling || !fit) return;
        var x = level * context;
        // A reading equal to the newest one adds nothing but weight, and a steady state would push out of the window the
        // readings that give the line its spread: it is not kept.
        if (_newest is var (nx, ny) && Math.Abs(x - nx) <= 1e-3 * Math.Abs(nx) && Math.Abs(value - ny) <= 1e-3) return;
        _newest = (x, value);
        _samples.Enqueue((x, value));
        if (_samples.Count > Window) _samples.Dequeue();
        Refit();
    }

    /// <summary>
    /// True when <paramref name="value"/> is below the last reading folded in: the allocator is still returning memory (after
    /// a cut, or a fall of the context), so the reading tells what was held, not what the batch needs.
    /// </summary>
    public bool Falling(double value) => value < _lastY - 1e-6;

    /// <summary>The value predicted at <paramref name="level"/> and <paramref name="context"/>.</summary>
    public double Predict(double level, double context) => Intercept + Slope * level * context;

    /// <summary>
    /// The largest level whose prediction at <paramref name="context"/> stays under <paramref name="threshold"/> less
    /// <paramref name="margin"/>; +∞ when the slope is not positive.
    /// </summary>
    public double LargestLevelUnder(double threshold, double context, double margin) =>
        Slope > 0 && context > 0 ? (threshold - margin - Intercept) / (Slope * context) : double.PositiveInfinity;

    /// <summary>Forgets every reading (its predictions were contradicted); the rules decide until it is confident again.</summary>
    public void Distrust()
    {
        _samples.Clear();
        _newest = null;
        Confident = false;
        Confidence = 0;
        Distrusted++;
    }

    /// <summary>The state to persist.</summary>
    public BatchModelState Snapshot() => new([.. _samples], Intercept, Slope, Residual, Confidence, Distrusted);

    /// <summary>Restores a persisted state (its readings are fitted again).</summary>
    public void Restore(BatchModelState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        _samples.Clear();
        _newest = null;
        foreach (var s in state.Samples.TakeLast(Window))
            if (double.IsFinite(s.X) && double.IsFinite(s.Y))
                _samples.Enqueue(s);
        Distrusted = state.Distrusted;
        Refit();
    }

    private void Refit()
    {
        Confident = false;
        Confidence = 0;
        var n = _samples.Count;
        if (n < 3) return;
        var xs = new double[n][];
        var ys = new double[n];
        var ws = new double[n];
        double minX = double.PositiveInfinity, maxX = double.NegativeInfinity, sumW = 0, sumWx = 0;
        var i = 0;
        foreach (var (x, y) in _samples)
        {
            xs[i] = [x];
            ys[i] = y;
            // Exponential forgetting: the newest reading weighs 1, one HalfLife older 0.5.
            ws[i] = Math.Pow(0.5, (n - 1 - i) / (double)HalfLife);
            minX = Math.Min(minX, x);
            maxX = Math.Max(maxX, x);
            sumW += ws[i];
            sumWx += ws[i] * x;
            i++;
        }
        var meanX = sumWx / sumW;
        if (!(meanX > 0) || (maxX - minX) / meanX < MinSpread / 4) return;

        var coefficients = WeightedRegression.Weighted(xs, ys, ws, intercept: true);
        var a = coefficients[0];
        var b = coefficients[1];
        double sse = 0, sxx = 0;
        for (var j = 0; j < n; j++)
        {
            var r = ys[j] - a - b * xs[j][0];
            sse += ws[j] * r * r;
            sxx += ws[j] * (xs[j][0] - meanX) * (xs[j][0] - meanX);
        }
        // Effective sample size of the weights (Kish), for the degrees of freedom.
        var sumW2 = ws.Sum(w => w * w);
        var effective = sumW * sumW / sumW2;
        var variance = sse / sumW * effective / Math.Max(1, effective - 2);
        Intercept = a;
        Slope = b;
        Residual = Math.Sqrt(variance);
        var slopeError = sxx > 0 ? Math.Sqrt(variance / sxx) : double.PositiveInfinity;
        Confidence = b > 0 ? Math.Clamp(1 - slopeError / b, 0, 1) * Math.Min(1, n / (double)MinSamples) : 0;
        Confident = n >= MinSamples && (maxX - minX) / meanX >= MinSpread && b > 0 && Residual <= MaxResidual
                    && Confidence >= MinConfidence;
    }
}

