using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Sensing.Scrape;

/// <summary>
/// Prometheus endpoints the sensor scrapes (<c>Scarcity:Scrape</c>), so that an unmodified engine's own metrics (vLLM's
/// KV cache usage, TGI's queue size, Triton's pending requests) become series of the subsystem, as if it had reported
/// them. See docs/scrape.md.
/// </summary>
public sealed class ScrapeConfig : IValidatedConfig
{
    /// <summary>The configuration section these settings are bound from.</summary>
    public const string Section = "Scarcity:Scrape";

    /// <summary>The endpoints to scrape; empty (the default) scrapes nothing.</summary>
    public List<ScrapeTarget> Targets { get; set; } = [];

    /// <summary>
    /// The targets the sensor node of <paramref name="host"/> scrapes: those of that host, and those that name no host.
    /// One configuration file can list every host's targets; each host's sensor scrapes its own.
    /// </summary>
    public IReadOnlyList<ScrapeTarget> TargetsOf(string host) =>
        Targets.Where(t => string.IsNullOrEmpty(t.Host) || t.Host == host).ToList();

    /// <summary>Every problem with this configuration, each naming its key.</summary>
    public IEnumerable<string> Validate(string section = Section)
    {
        for (var i = 0; i < Targets.Count; i++)
        {
            if (Targets[i] is null)
            {
                yield return $"{section}:Targets:{i} is empty";
                continue;
            }
            foreach (var problem in Targets[i].Validate($"{section}:Targets:{i}")) yield return problem;
        }
        // Two mappings feeding the same series of one subsystem (a name is one subsystem, on whichever host) would
        // overwrite each other every sample.
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < Targets.Count; i++)
        {
            var t = Targets[i];
            if (t?.Metrics is null) continue;
            for (var m = 0; m < t.Metrics.Count; m++)
            {
                if (t.Metrics[m]?.Series is not { Length: > 0 } series) continue;
                var key = $"{t.Subsystem}/{series}";
                var here = $"{section}:Targets:{i}:Metrics:{m}:Series";
                if (!seen.TryAdd(key, here))
                    yield return $"{here} '{series}' of subsystem '{t.Subsystem}' is already fed by {seen[key]}";
            }
        }
    }
}

/// <summary>One Prometheus endpoint and the series of one subsystem read from it.</summary>
public sealed class ScrapeTarget : IValidatedConfig
{
    /// <summary>The endpoint, <c>http://</c> or <c>https://</c>, e.g. <c>http://127.0.0.1:8000/metrics</c> (vLLM). Required.</summary>
    public string Url { get; set; } = "";

    /// <summary>The subsystem the series belong to, as it registers (<c>inference_engine</c>). Required.</summary>
    public string Subsystem { get; set; } = "";

    /// <summary>
    /// The host the subsystem runs on; only that host's sensor node scrapes the target. <value>empty: every sensor node
    /// that reads this configuration, as its own host</value>
    /// </summary>
    public string? Host { get; set; }

    /// <summary>
    /// How often the endpoint is scraped; the sensor's interval (250 ms) is the finest step. <value>1 s</value>
    /// </summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a scrape may take before it counts as failed; at most <see cref="Interval"/>. <value>500 ms</value></summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// The longest wait between two attempts while the endpoint keeps failing: the wait starts at <see cref="Interval"/>
    /// and doubles per failure up to this. <value>30 s</value>
    /// </summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Which governor series come from which exposed metric. At least one.</summary>
    public List<ScrapeMetric> Metrics { get; set; } = [];

    /// <summary>Every problem with this target, each naming its key under <paramref name="section"/>.</summary>
    public IEnumerable<string> Validate(string section)
    {
        if (string.IsNullOrWhiteSpace(Url)) yield return $"{section}:Url is missing (e.g. http://127.0.0.1:8000/metrics)";
        else if (!Uri.TryCreate(Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || string.IsNullOrEmpty(uri.Host))
            yield return $"{section}:Url '{Url}' is not an http:// or https:// URL";
        if (string.IsNullOrWhiteSpace(Subsystem)) yield return $"{section}:Subsystem is missing (the name the subsystem registers with)";
        else if (Subsystem.IndexOfAny(['"', '{', '}', '\\', '\n']) >= 0) yield return $"{section}:Subsystem '{Subsystem}' may not contain quotes, braces or backslashes";
        if (Host is not null && Host.Trim().Length != Host.Length) yield return $"{section}:Host '{Host}' has leading or trailing white space";
        if (Interval <= TimeSpan.Zero) yield return $"{section}:Interval must be positive, was {Interval}";
        if (Timeout <= TimeSpan.Zero || (Interval > TimeSpan.Zero && Timeout > Interval))
            yield return $"{section}:Timeout must be positive and at most {section}:Interval ({Interval}), was {Timeout}";
        if (MaxBackoff < Interval) yield return $"{section}:MaxBackoff must be at least {section}:Interval ({Interval}), was {MaxBackoff}";
        if (Metrics.Count == 0) yield return $"{section}:Metrics is empty: map at least one series (see docs/scrape.md)";
        for (var i = 0; i < Metrics.Count; i++)
        {
            if (Metrics[i] is null)
            {
                yield return $"{section}:Metrics:{i} is empty";
                continue;
            }
            foreach (var problem in Metrics[i].Validate($"{section}:Metrics:{i}")) yield return problem;
        }
    }
}

/// <summary>How an exposed metric becomes a governor series.</summary>
public enum ScrapeKind
{
    /// <summary>The value as exposed (a gauge, or one quantile of a summary with <c>Labels: {"quantile": "0.99"}</c>).</summary>
    Gauge,
    /// <summary>
    /// A counter's increase per second between two scrapes (or per increase of <see cref="ScrapeMetric.Per"/>); a counter
    /// that went down (a restart) counts from 0.
    /// </summary>
    Counter,
    /// <summary>A quantile of a histogram's observations within <see cref="ScrapeMetric.Window"/>, from its bucket increases.</summary>
    Histogram,
}

/// <summary>How the matching samples of a gauge are combined when the labels match more than one (several models).</summary>
public enum ScrapeAggregate
{
    /// <summary>Their sum (a queue over every model). Counters and histograms are always summed.</summary>
    Sum,
    /// <summary>The largest (the fullest cache).</summary>
    Max,
    /// <summary>The smallest.</summary>
    Min,
    /// <summary>Their mean.</summary>
    Mean,
}

/// <summary>One governor series read from one exposed metric: <c>Series{subsystem="..."} &lt;- Metric{Labels}</c>.</summary>
public sealed class ScrapeMetric : IValidatedConfig
{
    /// <summary>
    /// The governor metric, one of <see cref="MetricNames.Known"/>, unlabelled (<c>kv_cache_util</c>, <c>latency_ms</c>,
    /// <c>queue_depth</c>); it becomes <c>Series{subsystem="&lt;Subsystem&gt;"}</c>, the series a rule on the subsystem reads.
    /// Required.
    /// </summary>
    public string Series { get; set; } = "";

    /// <summary>
    /// The exposed metric: a gauge's or counter's sample name (<c>vllm:num_requests_waiting</c>,
    /// <c>tgi_request_count</c>), or a histogram's family name, without <c>_bucket</c>
    /// (<c>vllm:time_to_first_token_seconds</c>). Required.
    /// </summary>
    public string Metric { get; set; } = "";

    /// <summary>
    /// Label matchers: a sample is read only when each of these labels has exactly this value (an empty value matches a
    /// sample without the label, as in PromQL). <value>empty: every sample of the metric</value>
    /// </summary>
    public Dictionary<string, string> Labels { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How the metric is read. <value>Gauge</value></summary>
    public ScrapeKind Kind { get; set; } = ScrapeKind.Gauge;

    /// <summary>
    /// For a <see cref="ScrapeKind.Counter"/>: a second counter to divide by instead of time, read with the same
    /// <see cref="Labels"/>, so the series is the mean per event over each scrape interval: Triton's
    /// <c>nv_inference_queue_duration_us</c> per <c>nv_inference_request_success</c> is the mean queue time per request, a
    /// histogram's <c>_sum</c> per its <c>_count</c> the mean observation. No event in the interval: no reading.
    /// <value>null: per second</value>
    /// </summary>
    public string? Per { get; set; }

    /// <summary>The quantile of a <see cref="ScrapeKind.Histogram"/>, in (0, 1), e.g. 0.99. Required for a histogram, not allowed otherwise.</summary>
    public double? Quantile { get; set; }

    /// <summary>The window a histogram's quantile is taken over (its bucket increases within it). <value>30 s</value></summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Multiplies the value into the governor's unit: 1000 for seconds to <c>latency_ms</c>, 0.01 for a percentage to a
    /// fraction. Finite and non-zero. <value>1</value>
    /// </summary>
    public double Scale { get; set; } = 1;

    /// <summary>How several matching samples of a gauge combine. <value>Sum</value></summary>
    public ScrapeAggregate Aggregate { get; set; } = ScrapeAggregate.Sum;

    /// <summary>Every problem with this mapping, each naming its key under <paramref name="section"/>.</summary>
    public IEnumerable<string> Validate(string section)
    {
        if (string.IsNullOrWhiteSpace(Series)) yield return $"{section}:Series is missing (a governor metric such as latency_ms)";
        else if (Series.Contains('{')) yield return $"{section}:Series '{Series}' must be unlabelled: the subsystem label is added";
        else if (!MetricNames.Known.Contains(Series))
            yield return $"{section}:Series '{Series}' is not a known metric (known: {string.Join(", ", MetricNames.Known.Order())})";
        if (string.IsNullOrWhiteSpace(Metric)) yield return $"{section}:Metric is missing (the exposed name, e.g. vllm:num_requests_waiting)";
        else if (!IsMetricName(Metric)) yield return $"{section}:Metric '{Metric}' is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)";
        else if (Kind == ScrapeKind.Histogram && Metric.EndsWith("_bucket", StringComparison.Ordinal))
            yield return $"{section}:Metric '{Metric}' names the buckets; give the histogram's name, '{Metric[..^"_bucket".Length]}'";
        foreach (var (label, _) in Labels)
            if (!IsMetricName(label) || label.Contains(':'))
                yield return $"{section}:Labels:{label} is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)";
        if (!Enum.IsDefined(Kind)) yield return $"{section}:Kind '{Kind}' is not one of {string.Join(", ", Enum.GetNames<ScrapeKind>())}";
        if (Kind == ScrapeKind.Histogram)
        {
            if (Quantile is not { } q) yield return $"{section}:Quantile is missing: a Histogram mapping needs one in (0, 1), e.g. 0.99";
            else if (!(q > 0 && q < 1)) yield return $"{section}:Quantile must be in (0, 1), was {q}";
            if (Window <= TimeSpan.Zero) yield return $"{section}:Window must be positive, was {Window}";
            if (Labels.ContainsKey("le")) yield return $"{section}:Labels:le selects one bucket; a Histogram mapping reads them all";
        }
        else if (Quantile is not null)
            yield return $"{section}:Quantile applies to a Histogram mapping only (a summary's quantile is a Gauge with Labels:quantile)";
        if (Per is not null)
        {
            if (Kind != ScrapeKind.Counter) yield return $"{section}:Per applies to a Counter mapping only, this one is {Kind}";
            else if (!IsMetricName(Per)) yield return $"{section}:Per '{Per}' is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)";
        }
        if (!double.IsFinite(Scale) || Scale == 0) yield return $"{section}:Scale must be a finite, non-zero number, was {Scale}";
        if (!Enum.IsDefined(Aggregate)) yield return $"{section}:Aggregate '{Aggregate}' is not one of {string.Join(", ", Enum.GetNames<ScrapeAggregate>())}";
    }

    /// <summary>True for <c>[a-zA-Z_:][a-zA-Z0-9_:]*</c>.</summary>
    internal static bool IsMetricName(string name) =>
        name.Length > 0 && !char.IsAsciiDigit(name[0]) && name.All(c => char.IsAsciiLetter(c) || char.IsAsciiDigit(c) || c is '_' or ':');
}
