namespace Scarcity.Actors.Sensing;

/// <summary>
/// Samples several sources (the Linux host, NVML, a subsystem's own) into one buffer, in order. A source that throws is
/// isolated: whatever it added this time is dropped, the series it reported last time are marked stale, the failure goes
/// to the callback, and the other sources still report. It is sampled again next time.
/// </summary>
public sealed class CompositeSensorSource : ISensorSource
{
    private readonly ISensorSource[] _sources;
    private readonly Action<ISensorSource, Exception>? _onSourceFailed;
    private readonly string[][] _lastSeries;
    private readonly int[] _lastSeriesCount;

    /// <param name="sources">The sources, sampled in this order; the composite owns them and disposes them.</param>
    /// <param name="onSourceFailed">Hears each failure of a source (the SensorActor logs it).</param>
    public CompositeSensorSource(IEnumerable<ISensorSource> sources, Action<ISensorSource, Exception>? onSourceFailed = null)
    {
        ArgumentNullException.ThrowIfNull(sources);
        _sources = sources.ToArray();
        if (_sources.Length == 0) throw new ArgumentException("A composite needs at least one source.", nameof(sources));
        if (Array.IndexOf(_sources, null) >= 0) throw new ArgumentException("A source is null.", nameof(sources));
        _onSourceFailed = onSourceFailed;
        _lastSeries = new string[_sources.Length][];
        for (var i = 0; i < _sources.Length; i++) _lastSeries[i] = new string[16];
        _lastSeriesCount = new int[_sources.Length];
        Name = "composite(" + string.Join(",", _sources.Select(s => s.Name)) + ")";
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The sources, in sampling order.</summary>
    public IReadOnlyList<ISensorSource> Sources => _sources;

    /// <inheritdoc />
    public void Sample(MetricBuffer buffer, DateTimeOffset now)
    {
        for (var i = 0; i < _sources.Length; i++)
        {
            var count = buffer.Count;
            var staleCount = buffer.StaleCount;
            try
            {
                _sources[i].Sample(buffer, now);
            }
            catch (Exception e)
            {
                buffer.Truncate(count, staleCount);
                for (var j = 0; j < _lastSeriesCount[i]; j++) buffer.AddStale(_lastSeries[i][j]);
                _onSourceFailed?.Invoke(_sources[i], e);
                continue;
            }
            Remember(i, buffer.Values[count..], buffer.Stale[staleCount..]);
        }
    }

    /// <summary>Keeps the names of the series a source just reported, to mark them stale if it fails next time.</summary>
    private void Remember(int source, ReadOnlySpan<Contracts.MetricValue> values, ReadOnlySpan<string> stale)
    {
        ref var names = ref _lastSeries[source];
        var needed = values.Length + stale.Length;
        if (names.Length < needed) names = new string[Math.Max(needed, names.Length * 2)];
        var n = 0;
        foreach (var v in values) names[n++] = v.Metric;
        foreach (var s in stale) names[n++] = s;
        _lastSeriesCount[source] = n;
    }

    /// <summary>Disposes every source, even when one throws.</summary>
    public void Dispose()
    {
        List<Exception>? errors = null;
        foreach (var source in _sources)
        {
            try
            {
                source.Dispose();
            }
            catch (Exception e)
            {
                (errors ??= []).Add(e);
            }
        }
        if (errors is not null) throw new AggregateException("Disposing a sensor source failed.", errors);
    }
}
