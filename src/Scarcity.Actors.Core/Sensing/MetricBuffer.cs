using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Sensing;

/// <summary>
/// A reusable, growable buffer of readings, so that a source allocates nothing per sample in steady state: series
/// names should be strings the source built once (constants or cached labelled names).
/// </summary>
public sealed class MetricBuffer
{
    private MetricValue[] _values;
    private string[] _stale;

    /// <summary>Creates a buffer with room for <paramref name="capacity"/> readings before it grows.</summary>
    public MetricBuffer(int capacity = 64)
    {
        _values = new MetricValue[capacity];
        _stale = new string[8];
    }

    /// <summary>Number of readings.</summary>
    public int Count { get; private set; }

    /// <summary>Number of stale series.</summary>
    public int StaleCount { get; private set; }

    /// <summary>The readings added since the last <see cref="Clear"/>.</summary>
    public ReadOnlySpan<MetricValue> Values => _values.AsSpan(0, Count);

    /// <summary>The series marked stale since the last <see cref="Clear"/>.</summary>
    public ReadOnlySpan<string> Stale => _stale.AsSpan(0, StaleCount);

    /// <summary>Appends a reading.</summary>
    public void Add(string metric, double value)
    {
        if (Count == _values.Length) Array.Resize(ref _values, _values.Length * 2);
        _values[Count++] = new MetricValue(metric, value);
    }

    /// <summary>Reports that a series could not be read this time: it turns stale, it does not read as zero.</summary>
    public void AddStale(string metric)
    {
        if (StaleCount == _stale.Length) Array.Resize(ref _stale, _stale.Length * 2);
        _stale[StaleCount++] = metric;
    }

    /// <summary>The value of a series added since the last clear, or null.</summary>
    public double? Find(string metric)
    {
        foreach (var v in Values)
            if (v.Metric == metric) return v.Value;
        return null;
    }

    /// <summary>
    /// Drops what was added after the buffer held <paramref name="count"/> readings and <paramref name="staleCount"/>
    /// stale series: undoes the partial readings of a source that failed half-way.
    /// </summary>
    public void Truncate(int count, int staleCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Count);
        ArgumentOutOfRangeException.ThrowIfNegative(staleCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(staleCount, StaleCount);
        Count = count;
        StaleCount = staleCount;
    }

    /// <summary>Empties the buffer, keeping its storage.</summary>
    public void Clear()
    {
        Count = 0;
        StaleCount = 0;
    }
}
