using BenchmarkDotNet.Attributes;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Sensing.Scrape;

namespace Scarcity.Actors.Benchmarks;

/// <summary>
/// One scrape of a vLLM server as the scrape source handles it, without the network: parsing its exposition (82 lines,
/// about 8 kB, tests/expositions/vllm-1.txt) and reading four series from it (a gauge, a queue, a counter rate, a
/// p99 over a histogram's window). Done on the thread pool once per target and interval (1 s by default), never in a
/// sample; the figure says how many targets one core can afford.
/// </summary>
[MemoryDiagnoser]
public class ScrapeBenchmarks
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private string _text = "";
    private Exposition _exposition = null!;
    private ScrapeMapping[] _mappings = [];
    private int _scrape;

    [GlobalSetup]
    public void Setup()
    {
        _text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Expositions", "vllm-1.txt"));
        _exposition = Exposition.Parse(_text);
        _mappings =
        [
            new(new ScrapeMetric { Series = MetricNames.KvCacheUtil, Metric = "vllm:gpu_cache_usage_perc" }, "vllm"),
            new(new ScrapeMetric { Series = MetricNames.QueueDepth, Metric = "vllm:num_requests_waiting" }, "vllm"),
            new(new ScrapeMetric { Series = MetricNames.TokensPerSecond, Metric = "vllm:generation_tokens_total", Kind = ScrapeKind.Counter }, "vllm"),
            new(new ScrapeMetric
            {
                Series = MetricNames.LatencyMs, Metric = "vllm:time_to_first_token_seconds", Kind = ScrapeKind.Histogram, Quantile = 0.99, Scale = 1000,
            }, "vllm"),
        ];
    }

    /// <summary>Parsing the exposition.</summary>
    [Benchmark]
    public int Parse() => Exposition.Parse(_text).Samples.Count;

    /// <summary>Reading the four mapped series from a parsed exposition, one scrape a second later than the last.</summary>
    [Benchmark]
    public double Map()
    {
        var at = T0.AddSeconds(++_scrape);
        var sum = 0.0;
        foreach (var m in _mappings) sum += m.Read(_exposition, at, out _) ?? 0;
        return sum;
    }
}
