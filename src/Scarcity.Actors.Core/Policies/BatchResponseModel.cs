namespace Scarcity.Actors.Policies;

/// <summary>
/// What <c>reduce_batch</c> does to VRAM, learned online: <c>vram ≈ a + b × level × context</c> (weights plus a KV cache
/// that grows with batch and context length), an ordinary least-squares line over the latest readings (closed form; the
/// core references no numerics package yet: CoreReferencesSpecs).
/// Pure and deterministic; not thread-safe.
/// </summary>
/// <remarks>
/// Only readings that did not fall since the one before are fitted: an allocator grabs memory at once but returns it
/// slowly, so a falling reading after a cut tells what was held, not what the batch needs.
/// </remarks>
public sealed class BatchResponseModel
{
    /// <summary>Readings kept for the fit.</summary>
    public const int Window = 240;

    /// <summary>Readings needed before the model can be confident.</summary>
    public const int MinSamples = 12;

    /// <summary>The spread of <c>level × context</c> needed, relative to its mean, before a slope means anything.</summary>
    public const double MinSpread = 0.08;

    /// <summary>The largest residual standard deviation a confident model has.</summary>
    public const double MaxResidual = 0.03;

    private readonly Queue<(double X, double Y)> _samples = new();
    private double _lastY = double.NaN;

    /// <summary>True when the fit has enough readings over a wide enough range, a positive slope and small residuals.</summary>
    public bool Confident { get; private set; }

    /// <summary><c>a</c>: the value at level 0 (the weights).</summary>
    public double Intercept { get; private set; }

    /// <summary><c>b</c>: the value per unit of <c>level × context</c>.</summary>
    public double Slope { get; private set; }

    /// <summary>Standard deviation of the fitted readings around the line.</summary>
    public double Residual { get; private set; }

    /// <summary>Readings in the fit.</summary>
    public int Count => _samples.Count;

    /// <summary>The margin kept under a threshold: twice the residual, at least 0.02.</summary>
    public double Margin => Math.Max(0.02, 2 * Residual);

    /// <summary>Folds in one reading <paramref name="value"/> taken at <paramref name="level"/> and <paramref name="context"/>.</summary>
    public void Observe(double level, double context, double value)
    {
        if (!double.IsFinite(level) || !double.IsFinite(context) || !double.IsFinite(value) || context <= 0) return;
        var falling = value < _lastY - 1e-6;
        _lastY = value;
        if (falling) return;
        _samples.Enqueue((level * context, value));
        if (_samples.Count > Window) _samples.Dequeue();
        Refit();
    }

    /// <summary>The value predicted at <paramref name="level"/> and <paramref name="context"/>.</summary>
    public double Predict(double level, double context) => Intercept + Slope * level * context;

    /// <summary>The largest level whose prediction at <paramref name="context"/> stays under <paramref name="threshold"/> less <see cref="Margin"/>.</summary>
    public double LargestLevelUnder(double threshold, double context) =>
        Slope > 0 && context > 0 ? (threshold - Margin - Intercept) / (Slope * context) : double.PositiveInfinity;

    /// <summary>Forgets every reading (its predictions were contradicted); the rules decide until it is confident again.</summary>
    public void Distrust()
    {
        _samples.Clear();
        Confident = false;
    }

    private void Refit()
    {
        Confident = false;
        if (_samples.Count < MinSamples) return;
        var xs = new double[_samples.Count];
        var ys = new double[_samples.Count];
        var i = 0;
        foreach (var (x, y) in _samples)
        {
            xs[i] = x;
            ys[i++] = y;
        }
        var mean = xs.Average();
        if (!(mean > 0) || (xs.Max() - xs.Min()) / mean < MinSpread) return;
        var meanY = ys.Average();
        double sxy = 0, sxx = 0;
        for (var j = 0; j < xs.Length; j++)
        {
            sxy += (xs[j] - mean) * (ys[j] - meanY);
            sxx += (xs[j] - mean) * (xs[j] - mean);
        }
        var b = sxy / sxx;
        var a = meanY - b * mean;
        var sse = 0.0;
        for (var j = 0; j < xs.Length; j++) sse += Math.Pow(ys[j] - a - b * xs[j], 2);
        Intercept = a;
        Slope = b;
        Residual = Math.Sqrt(sse / Math.Max(1, xs.Length - 2));
        Confident = b > 0 && Residual <= MaxResidual;
    }
}
