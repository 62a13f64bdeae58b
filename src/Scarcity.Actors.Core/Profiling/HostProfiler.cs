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
    private readonly Action<string>? _notice;
    private readonly Dictionary<string, SeriesProfile> _series = new(StringComparer.Ordinal);
    private HashSet<string>? _outOfOrderSaid;
    private DateTimeOffset? _lastClockStepAt;

    /// <summary>Creates an empty profiler.</summary>
    /// <param name="config">Smoothing and forecasting.</param>
    /// <param name="notice">
    /// Hears about readings not folded in as they came: the clock stepping back (once per step, not once per series) and
    /// a series' first reading out of order. Default none; the counts are kept either way.
    /// </param>
    /// <exception cref="ArgumentException"><paramref name="config"/> is not valid.</exception>
    public HostProfiler(ProfilerConfig config, Action<string>? notice = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.EnsureValid(ProfilerConfig.Section);
        _config = config.Clone();
        _notice = notice;
    }

    /// <summary>Number of series known.</summary>
    public int Count => _series.Count;

    /// <summary>The series known.</summary>
    public IReadOnlyCollection<string> Series => _series.Keys;

    /// <summary>Readings rejected because they were older than their series' last (by less than a clock step).</summary>
    public long OutOfOrderReadings { get; private set; }

    /// <summary>Readings after which a series re-anchored because the wall clock had stepped back.</summary>
    public long ClockStepReadings { get; private set; }

    /// <summary>
    /// Folds one reading into its series, creating the series on its first reading. Returns false, changing nothing, for
    /// a non-finite value or a reading out of order (see <see cref="SeriesProfile.Fold"/>); the caller counts it as
    /// rejected. After the wall clock steps back the series re-anchors and the reading is folded in.
    /// </summary>
    public bool Update(string series, double value, DateTimeOffset at)
    {
        if (!_series.TryGetValue(series, out var profile))
        {
            if (!double.IsFinite(value)) return false;
            profile = new SeriesProfile(series, _config);
            _series.Add(series, profile);
        }

        var last = profile.UpdatedAt;
        switch (profile.Fold(value, at))
        {
            case ReadingOutcome.Accepted:
                return true;
            case ReadingOutcome.ClockSteppedBack:
                ClockStepReadings++;
                // Every series of a sample carries the same time: one notice per step, not one per series.
                if (_lastClockStepAt != at)
                {
                    _lastClockStepAt = at;
                    _notice?.Invoke(FormattableString.Invariant(
                        $"the clock stepped back {(last - at).TotalSeconds:0.###} s ({series}: a reading at {at:O} after one at {last:O}); ") +
                        "series re-anchor on the new time, keeping level and trend");
                }
                return true;
            case ReadingOutcome.OutOfOrder:
                OutOfOrderReadings++;
                if ((_outOfOrderSaid ??= new HashSet<string>(StringComparer.Ordinal)).Add(series))
                    _notice?.Invoke(FormattableString.Invariant(
                        $"{series}: a reading at {at:O} is {(last - at).TotalSeconds:0.###} s older than the last one ({last:O}) and was rejected; ") +
                        "out-of-order readings are counted (said once per series)");
                return false;
            default:
                return false;
        }
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
    public ImmutableDictionary<string, MetricEstimate> Snapshot(DateTimeOffset now, TimeSpan interval) => Snapshot(now, interval, out _);

    /// <summary>
    /// <see cref="Snapshot(DateTimeOffset, TimeSpan)"/> and, from the same estimates, the host's pressure as
    /// <see cref="PressureLevels.Of"/> gives it for them (one pass instead of enumerating the immutable dictionary again).
    /// </summary>
    public ImmutableDictionary<string, MetricEstimate> Snapshot(DateTimeOffset now, TimeSpan interval, out PressureLevel pressure)
    {
        var builder = ImmutableDictionary.CreateBuilder<string, MetricEstimate>(StringComparer.Ordinal);
        var worst = double.NaN;
        foreach (var (series, profile) in _series)
        {
            if (profile.Count == 0) continue;
            var estimate = profile.ToEstimate(now, interval);
            builder.Add(series, estimate);
            if (profile.IsUtilisation) worst = PressureLevels.Worse(worst, estimate);
        }
        pressure = PressureLevels.From(worst);
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
