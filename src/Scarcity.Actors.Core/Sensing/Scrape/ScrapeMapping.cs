using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Sensing.Scrape;

/// <summary>
/// Turns successive expositions of one target into readings of one governor series, as <see cref="ScrapeMetric"/> says:
/// a gauge as exposed, a counter as its increase per second (a counter that went down restarted: it counts from 0), a
/// histogram as a quantile of what it observed within the window (the increase of each bucket since the scrape a window
/// ago, interpolated within the bucket as PromQL's <c>histogram_quantile</c> does). Fed the scrape's time, so specs
/// drive it without a clock; one instance per mapping, called from one thread.
/// </summary>
public sealed class ScrapeMapping
{
    private readonly ScrapeMetric _metric;
    private readonly string _bucketName;
    // Counter: the last value of each matching series (and of the divisor's, for Per).
    private readonly CounterState _counter = new();
    private readonly CounterState? _per;
    // Histogram: the cumulative buckets (summed over the matching series) of recent scrapes, oldest first.
    private readonly List<(DateTimeOffset At, double[] Counts)> _history = [];
    private double[] _bounds = [];

    /// <summary>Creates the mapping of <paramref name="metric"/> (validated) for subsystem <paramref name="subsystem"/>.</summary>
    public ScrapeMapping(ScrapeMetric metric, string subsystem)
    {
        ArgumentNullException.ThrowIfNull(metric);
        _metric = metric;
        _bucketName = metric.Metric + "_bucket";
        if (metric.Per is not null) _per = new CounterState();
        Series = MetricNames.Labelled(metric.Series, MetricNames.SubsystemLabel, subsystem);
    }

    /// <summary>The governor series it feeds, e.g. <c>latency_ms{subsystem="vllm"}</c>.</summary>
    public string Series { get; }

    /// <summary>
    /// The reading from <paramref name="exposition"/>, scraped at <paramref name="at"/>, or null when there is none this
    /// time: nothing matches (<paramref name="problem"/> says so), the first scrape of a counter or histogram (no increase
    /// yet), a histogram that observed nothing within its window, or a value that is NaN.
    /// </summary>
    public double? Read(Exposition exposition, DateTimeOffset at, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(exposition);
        problem = null;
        var value = _metric.Kind switch
        {
            ScrapeKind.Counter => ReadCounter(exposition, at, out problem),
            ScrapeKind.Histogram => ReadHistogram(exposition, at, out problem),
            _ => ReadGauge(exposition, out problem),
        };
        return value is { } v && double.IsFinite(v * _metric.Scale) ? v * _metric.Scale : null;
    }

    private bool Matches(ExpositionSample sample, string name)
    {
        if (sample.Name != name) return false;
        foreach (var (label, wanted) in _metric.Labels)
            if ((sample.Label(label) ?? "") != wanted) return false;
        return true;
    }

    private string NotFound(Exposition exposition, string name)
    {
        var labels = _metric.Labels.Count == 0 ? "" : "{" + string.Join(",", _metric.Labels.Select(l => $"{l.Key}=\"{l.Value}\"")) + "}";
        var any = exposition.Samples.Any(s => s.Name == name);
        return any ? $"no sample of {name} matches {labels}" : $"the target exposes no {name}";
    }

    private double? ReadGauge(Exposition exposition, out string? problem)
    {
        problem = null;
        double sum = 0, max = double.NegativeInfinity, min = double.PositiveInfinity;
        var n = 0;
        var nan = false;
        foreach (var s in exposition.Samples)
        {
            if (!Matches(s, _metric.Metric)) continue;
            if (double.IsNaN(s.Value))
            {
                nan = true;
                continue;
            }
            sum += s.Value;
            max = Math.Max(max, s.Value);
            min = Math.Min(min, s.Value);
            n++;
        }
        if (n == 0)
        {
            problem = nan ? $"{_metric.Metric} is NaN" : NotFound(exposition, _metric.Metric);
            return null;
        }
        return _metric.Aggregate switch
        {
            ScrapeAggregate.Max => max,
            ScrapeAggregate.Min => min,
            ScrapeAggregate.Mean => sum / n,
            _ => sum,
        };
    }

    private double? ReadCounter(Exposition exposition, DateTimeOffset at, out string? problem)
    {
        var increase = _counter.Increase(this, exposition, _metric.Metric, at, out problem);
        if (_metric.Per is not { } per)
            return increase is { } i && _counter.LastInterval is { } dt ? i / dt.TotalSeconds : null;
        var divisor = _per!.Increase(this, exposition, per, at, out var perProblem);
        problem ??= perProblem;
        // Nothing counted by the divisor (no request) in the interval: no mean, rather than a division by zero.
        return increase is { } n && divisor is > 0 ? n / divisor : null;
    }

    private double? ReadHistogram(Exposition exposition, DateTimeOffset at, out string? problem)
    {
        problem = null;
        // Cumulative count per upper bound, summed over every matching series (several models, several instances).
        var buckets = new SortedDictionary<double, double>();
        foreach (var s in exposition.Samples)
        {
            if (!Matches(s, _bucketName)) continue;
            var le = s.Label("le");
            if (le is null || ExpositionParser.ParseValue(le) is not { } bound || double.IsNaN(bound))
            {
                problem = $"{_bucketName} has a bucket without a valid le label ('{le}')";
                return null;
            }
            if (double.IsNaN(s.Value)) continue;
            buckets[bound] = buckets.GetValueOrDefault(bound) + s.Value;
        }
        if (buckets.Count == 0)
        {
            problem = NotFound(exposition, _bucketName);
            return null;
        }
        if (!double.IsPositiveInfinity(buckets.Keys.Last()))
        {
            problem = $"{_bucketName} has no le=\"+Inf\" bucket";
            return null;
        }
        var bounds = buckets.Keys.ToArray();
        var counts = buckets.Values.ToArray();
        // Cumulative counts never fall from one bucket to the next; a scrape racing an observation can make them (PromQL fixes it the same way).
        for (var i = 1; i < counts.Length; i++) counts[i] = Math.Max(counts[i], counts[i - 1]);

        if (!bounds.AsSpan().SequenceEqual(_bounds))
        {
            // New buckets (a restart with another layout): start the window again.
            _bounds = bounds;
            _history.Clear();
            _history.Add((at, counts));
            return null;
        }
        if (_history.Count > 0 && at <= _history[^1].At) return null; // the same scrape again, or out of order

        double[] baseline;
        if (_history.Count > 0 && IsReset(_history[^1].Counts, counts))
        {
            // The process restarted since the last scrape: everything it counted is within the window.
            _history.Clear();
            baseline = new double[counts.Length];
        }
        else if (_history.Count == 0)
        {
            _history.Add((at, counts));
            return null;
        }
        else
        {
            // The newest scrape at least a window old, or the oldest kept while the window is still filling.
            var from = at - _metric.Window;
            var index = _history.FindLastIndex(h => h.At <= from);
            baseline = _history[Math.Max(index, 0)].Counts;
            if (index > 0) _history.RemoveRange(0, index);
        }
        _history.Add((at, counts));

        var increase = new double[counts.Length];
        for (var i = 0; i < counts.Length; i++) increase[i] = Math.Max(0, counts[i] - baseline[i]);
        for (var i = 1; i < increase.Length; i++) increase[i] = Math.Max(increase[i], increase[i - 1]);
        return Quantile(_metric.Quantile ?? 0.5, bounds, increase);
    }

    private static bool IsReset(double[] before, double[] now)
    {
        for (var i = 0; i < now.Length; i++)
            if (now[i] < before[i]) return true;
        return false;
    }

    /// <summary>
    /// The <paramref name="q"/>-quantile of cumulative bucket counts, as PromQL's <c>histogram_quantile</c>: linear within
    /// the bucket the rank falls in (from 0 for the first bucket with a positive bound), the highest finite bound when it
    /// falls in the +Inf bucket; null when nothing was observed.
    /// </summary>
    internal static double? Quantile(double q, double[] bounds, double[] cumulative)
    {
        var total = cumulative[^1];
        if (bounds.Length < 2 || total <= 0) return null;
        var rank = q * total;
        var b = 0;
        while (b < cumulative.Length - 1 && cumulative[b] < rank) b++;
        if (b == bounds.Length - 1) return bounds[^2];
        if (b == 0 && bounds[0] <= 0) return bounds[0];
        var start = b == 0 ? 0 : bounds[b - 1];
        var end = bounds[b];
        var below = b == 0 ? 0 : cumulative[b - 1];
        var inBucket = cumulative[b] - below;
        return inBucket <= 0 ? end : start + (end - start) * ((rank - below) / inBucket);
    }

    private static string KeyOf(ExpositionSample sample)
    {
        if (sample.Labels.Count == 0) return "";
        return string.Join("\0", sample.Labels.Select(l => l.Key + "=" + l.Value).Order(StringComparer.Ordinal));
    }

    /// <summary>The matching series of one counter at the last scrape, to measure its increase at the next.</summary>
    private sealed class CounterState
    {
        private readonly Dictionary<string, double> _last = new(StringComparer.Ordinal);
        private DateTimeOffset? _lastAt;

        /// <summary>The time between the last two scrapes that gave an increase.</summary>
        public TimeSpan? LastInterval { get; private set; }

        /// <summary>
        /// The increase of the counter <paramref name="name"/> (summed over its matching series) since the last scrape:
        /// a series lower than before restarted and counts from 0; a series seen for the first time counts from its
        /// next scrape. Null at the first scrape, for a scrape not later than the last, and when nothing matches.
        /// </summary>
        public double? Increase(ScrapeMapping mapping, Exposition exposition, string name, DateTimeOffset at, out string? problem)
        {
            problem = null;
            var current = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var s in exposition.Samples)
                if (mapping.Matches(s, name) && !double.IsNaN(s.Value)) current[KeyOf(s)] = s.Value;
            if (current.Count == 0)
            {
                problem = mapping.NotFound(exposition, name);
                return null;
            }
            if (_lastAt is { } last && at <= last) return null;
            double? increase = null;
            if (_lastAt is { } before)
            {
                var sum = 0.0;
                foreach (var (key, value) in current)
                    if (_last.TryGetValue(key, out var was)) sum += value >= was ? value - was : value;
                increase = sum;
                LastInterval = at - before;
            }
            _last.Clear();
            foreach (var (key, value) in current) _last[key] = value;
            _lastAt = at;
            return increase;
        }
    }
}
