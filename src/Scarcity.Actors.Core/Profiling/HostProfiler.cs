using Scarcity.Actors.Configuration;
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Profiling;

/// <summary>
/// The profiles of every series of one host. Pure and single-threaded: the ProfilerActor owns one per host and passes
/// every timestamp in. Updating a series seen before allocates nothing.
/// </summary>
public sealed class HostProfiler
{
    private readonly ProfilerConfig _config;
    private readonly Dictionary<string, SeriesProfile> _series = new(StringComparer.Ordinal);

    /// <summary>Creates an empty profiler.</summary>
    /// <exception cref="ArgumentException"><paramref name="config"/> is not valid.</exception>
    public HostProfiler(ProfilerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.EnsureValid(ProfilerConfig.Section);
        _config = config.Clone();
    }

    /// <summary>Number of series known.</summary>
    public int Count => _series.Count;

    /// <summary>The series known.</summary>
    public IReadOnlyCollection<string> Series => _series.Keys;

    /// <summary>
    /// Folds one reading into its series, creating the series on its first reading. Returns false, changing
    /// nothing, for a non-finite value (the caller counts it as rejected) or a reading older than the series' last.
    /// </summary>
    public bool Update(string series, double value, DateTimeOffset at)
    {
        if (_series.TryGetValue(series, out var profile)) return profile.Update(value, at);
        if (!double.IsFinite(value)) return false;
        profile = new SeriesProfile(series, _config);
        _series.Add(series, profile);
        return profile.Update(value, at);
    }

    /// <summary>The live profile of one series.</summary>
    public bool TryGetProfile(string series, [NotNullWhen(true)] out SeriesProfile? profile) =>
        _series.TryGetValue(series, out profile);

    /// <summary>What is known of one series at <paramref name="now"/>, stale when it has no reading for StaleAfterIntervals × <paramref name="interval"/>.</summary>
    public bool TryGet(string series, DateTimeOffset now, TimeSpan interval, [NotNullWhen(true)] out MetricEstimate? estimate)
    {
        if (_series.TryGetValue(series, out var profile) && profile.Count > 0)
        {
            estimate = profile.ToEstimate(now, interval);
            return true;
        }

        estimate = null;
        return false;
    }

    /// <summary>Every series at <paramref name="now"/>; a series with no reading for StaleAfterIntervals × <paramref name="interval"/> is marked stale.</summary>
    public ImmutableDictionary<string, MetricEstimate> Snapshot(DateTimeOffset now, TimeSpan interval)
    {
        var builder = ImmutableDictionary.CreateBuilder<string, MetricEstimate>(StringComparer.Ordinal);
        foreach (var (series, profile) in _series)
            if (profile.Count > 0) builder.Add(series, profile.ToEstimate(now, interval));
        return builder.ToImmutable();
    }

    /// <summary>
    /// Host pressure at <paramref name="now"/>: from the worst fresh utilisation series (labelled ones included),
    /// the larger of its estimate and its forecast. Green when no utilisation is fresh.
    /// </summary>
    public PressureLevel Pressure(DateTimeOffset now, TimeSpan interval)
    {
        var worst = double.NaN;
        foreach (var (_, profile) in _series)
        {
            if (!profile.IsUtilisation || profile.IsStale(now, interval)) continue;
            worst = PressureLevels.Max(worst, PressureLevels.Signal(profile.Estimate, profile.Forecast));
        }

        return PressureLevels.From(worst);
    }

    /// <summary>Forgets a series (e.g. a GPU that left the host). Returns false when it was not known.</summary>
    public bool Remove(string series) => _series.Remove(series);

    /// <summary>Every series' state, for a snapshot.</summary>
    public ImmutableDictionary<string, SeriesState> Export()
    {
        var builder = ImmutableDictionary.CreateBuilder<string, SeriesState>(StringComparer.Ordinal);
        foreach (var (series, profile) in _series) builder.Add(series, profile.Export());
        return builder.ToImmutable();
    }

    /// <summary>Replaces every series with the states of a snapshot (series not in it are forgotten).</summary>
    /// <exception cref="ArgumentException">A state is unusable; nothing is changed then.</exception>
    public void Import(IEnumerable<KeyValuePair<string, SeriesState>> states)
    {
        ArgumentNullException.ThrowIfNull(states);
        var restored = new Dictionary<string, SeriesProfile>(StringComparer.Ordinal);
        foreach (var (series, state) in states)
        {
            var profile = new SeriesProfile(series, _config);
            try
            {
                profile.Import(state);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"Series {series}: {e.Message}", nameof(states), e);
            }

            restored[series] = profile;
        }

        _series.Clear();
        foreach (var (series, profile) in restored) _series.Add(series, profile);
    }
}
