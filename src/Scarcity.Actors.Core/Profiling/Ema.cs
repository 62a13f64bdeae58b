namespace Scarcity.Actors.Profiling;

/// <summary>Exponential moving average of a series; the first reading seeds it, so it starts at the first value, not at 0.</summary>
public struct Ema
{
    /// <summary>Creates an average that weighs the newest reading by <paramref name="alpha"/>, in (0, 1].</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="alpha"/> is outside (0, 1].</exception>
    public Ema(double alpha)
    {
        if (!(alpha > 0 && alpha <= 1)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "must be in (0, 1]");
        Alpha = alpha;
    }

    /// <summary>Weight of the newest reading.</summary>
    public double Alpha { get; }

    /// <summary>The average; 0 until the first reading (see <see cref="IsSeeded"/>).</summary>
    public double Value { get; private set; }

    /// <summary>True once a reading arrived.</summary>
    public bool IsSeeded { get; private set; }

    /// <summary>Folds in one reading and returns the new average.</summary>
    public double Update(double value)
    {
        Value = IsSeeded ? Value + Alpha * (value - Value) : value;
        IsSeeded = true;
        return Value;
    }

    /// <summary>Restores an exported average, as if it had been reached by readings.</summary>
    public void Restore(double value)
    {
        Value = value;
        IsSeeded = true;
    }
}
