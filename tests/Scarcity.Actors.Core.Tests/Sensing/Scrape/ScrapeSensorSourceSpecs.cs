using System.Collections.Concurrent;
using System.Diagnostics;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Sensing;
using Scarcity.Actors.Sensing.Scrape;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Sensing.Scrape;

/// <summary>The scrape source against a real HTTP endpoint on loopback serving recorded expositions, in real time.</summary>
public sealed class ScrapeSensorSourceSpecs
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private const string Kv = "kv_cache_util{subsystem=\"vllm\"}";
    private const string Latency = "latency_ms{subsystem=\"vllm\"}";
    private const string Tokens = "tokens_per_s{subsystem=\"vllm\"}";
    private const string Queue = "queue_depth{subsystem=\"vllm\"}";

    private readonly ConcurrentQueue<string> _warnings = new();
    private readonly ConcurrentQueue<string> _notices = new();
    private readonly ConcurrentQueue<string> _errors = new();

    private static ScrapeTarget Vllm(string url, TimeSpan? interval = null, TimeSpan? timeout = null) => new()
    {
        Url = url,
        Subsystem = "vllm",
        Interval = interval ?? TimeSpan.FromMilliseconds(500),
        Timeout = timeout ?? TimeSpan.FromMilliseconds(500),
        MaxBackoff = TimeSpan.FromSeconds(1),
        Metrics =
        [
            new ScrapeMetric { Series = MetricNames.KvCacheUtil, Metric = "vllm:gpu_cache_usage_perc" },
            new ScrapeMetric { Series = MetricNames.QueueDepth, Metric = "vllm:num_requests_waiting" },
            new ScrapeMetric { Series = MetricNames.TokensPerSecond, Metric = "vllm:generation_tokens_total", Kind = ScrapeKind.Counter },
            new ScrapeMetric
            {
                Series = MetricNames.LatencyMs, Metric = "vllm:time_to_first_token_seconds", Kind = ScrapeKind.Histogram, Quantile = 0.99,
                Scale = 1000,
            },
        ],
    };

    private ScrapeSensorSource Source(ScrapeTarget target, TimeSpan? remindEvery = null) =>
        new([target], TimeSpan.FromMilliseconds(250), _notices.Enqueue, _warnings.Enqueue, (t, e) => _errors.Enqueue($"{t.Url}: {e}"), remindEvery);

    /// <summary>Samples every 50 ms, as a sensor would, until <paramref name="done"/> holds of a sample.</summary>
    private static async Task<MetricBuffer> SampleUntil(ISensorSource source, Func<MetricBuffer, bool> done, string what)
    {
        var buffer = new MetricBuffer();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < Wait)
        {
            buffer.Clear();
            source.Sample(buffer, DateTimeOffset.UtcNow);
            if (done(buffer)) return buffer;
            await Task.Delay(50);
        }
        throw new TimeoutException($"{what} not seen within {Wait}; last sample: " +
                                   string.Join(", ", buffer.Values.ToArray().Select(v => $"{v.Metric}={v.Value}")) +
                                   " stale: " + string.Join(", ", buffer.Stale.ToArray()));
    }

    private static bool Fresh(MetricBuffer b, string series, double value) => b.Find(series) is { } v && Math.Abs(v - value) < 1e-9;

    private static bool Stale(MetricBuffer b, string series) => b.Stale.ToArray().Contains(series) && b.Find(series) is null;

    [Fact]
    public async Task A_vLLM_endpoints_gauges_counter_rate_and_TTFT_quantile_become_the_subsystems_series()
    {
        using var server = new ExpositionServer(Expositions.Read("vllm-0.txt"), Expositions.Read("vllm-1.txt"));
        using var source = Source(Vllm(server.Url));

        // Before the first answer every series is stale, never zero.
        var first = new MetricBuffer();
        source.Sample(first, DateTimeOffset.UtcNow);
        Assert.Equal(0, first.Count);
        Assert.Equal([Kv, Queue, Tokens, Latency], first.Stale.ToArray());

        var one = await SampleUntil(source, b => Fresh(b, Kv, 0.42), "the first scrape");
        Assert.Equal(3, one.Find(Queue));
        Assert.True(Stale(one, Tokens));  // one reading of a counter gives no rate
        Assert.True(Stale(one, Latency)); // nor do a histogram's lifetime buckets

        var two = await SampleUntil(source, b => Fresh(b, Kv, 0.87), "the second scrape");
        Assert.Equal(17, two.Find(Queue));
        Assert.Equal(497.5, two.Find(Latency)!.Value, 9);   // 100 first tokens in (0.25 s, 0.5 s]
        // +1000 tokens between two scrapes at least one 500 ms interval apart (more on a loaded machine).
        Assert.InRange(two.Find(Tokens)!.Value, 1000 / Wait.TotalSeconds, 1000 / 0.5);
        Assert.Empty(_errors);
        Assert.Empty(_warnings);
    }

    [Fact]
    public async Task An_endpoint_that_goes_down_turns_its_series_stale_is_reported_and_retried_until_it_is_back()
    {
        using var server = new ExpositionServer(Expositions.Read("vllm-0.txt"));
        using var source = Source(Vllm(server.Url));
        await SampleUntil(source, b => Fresh(b, Kv, 0.42), "the first scrape");

        server.Stop();
        var down = await SampleUntil(source, b => Stale(b, Kv), "the series turning stale");

        Assert.True(Stale(down, Queue));
        Assert.Equal(0, down.Count);
        // Stale as soon as the failure is known, or sooner when the last good scrape is too old (a loaded machine).
        await SampleUntil(source, b => !_errors.IsEmpty && Stale(b, Kv), "the failure reported");
        // (A scrape answered while the listener stops can read an empty exposition first: its "has no reading" lines
        // may come before the failure's.)
        Assert.Contains(_warnings, w => w.Contains($"Scrape of {server.Url} (subsystem vllm) failed", StringComparison.Ordinal) &&
                                        w.Contains("are stale", StringComparison.Ordinal));
        Assert.All(_warnings, w => Assert.StartsWith($"Scrape of {server.Url}", w));

        // Retried with a backoff capped at 1 s; the same failure again is not logged again. (A pooled connection that
        // the server closed can fail differently once, before the port refuses.)
        await SampleUntil(source, _ => _errors.Any(e => e.Contains("Connection refused", StringComparison.Ordinal)), "a refused connection");
        var failures = _errors.Count;
        var lines = _warnings.Count;
        await SampleUntil(source, _ => _errors.Count >= failures + 2, "two more attempts");
        Assert.Equal(lines, _warnings.Count);
        Assert.Contains(_warnings, w => w.Contains("Connection refused", StringComparison.Ordinal));

        server.Start();
        await SampleUntil(source, b => Fresh(b, Kv, 0.42), "the series after the endpoint is back");
        Assert.Contains(_notices, n => n.Contains($"Scrape of {server.Url} (subsystem vllm) answers again", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_endpoint_that_keeps_failing_the_same_way_is_logged_again_once_per_reminder_period()
    {
        using var server = new ExpositionServer("<html>not metrics</html>");
        using var source = Source(Vllm(server.Url), remindEvery: TimeSpan.FromSeconds(2));

        await SampleUntil(source, _ => _warnings.Count >= 2, "a reminder");

        var lines = _warnings.ToArray();
        Assert.Contains("failed: not a Prometheus text exposition", lines[0]);
        Assert.Contains("still fails (", lines[1]);
        Assert.True(_errors.Count >= 2);
    }

    [Fact]
    public async Task A_slow_endpoint_times_out_into_stale_series_while_a_sample_never_waits_for_it()
    {
        using var server = new ExpositionServer(Expositions.Read("vllm-0.txt")) { Delay = TimeSpan.FromSeconds(3) };
        using var source = Source(Vllm(server.Url, timeout: TimeSpan.FromMilliseconds(300)));

        var slowest = TimeSpan.Zero;
        var buffer = new MetricBuffer();
        var clock = Stopwatch.StartNew();
        while (_errors.IsEmpty && clock.Elapsed < Wait)
        {
            buffer.Clear();
            var started = Stopwatch.GetTimestamp();
            source.Sample(buffer, DateTimeOffset.UtcNow);
            var took = Stopwatch.GetElapsedTime(started);
            if (took > slowest) slowest = took;
            Assert.True(Stale(buffer, Kv));
            await Task.Delay(50);
        }

        Assert.Contains("no answer within 300 ms", Assert.Single(_warnings));
        // A sample only hands out what is known, well within the sensor's 250 ms interval; the 3 s answer is awaited on
        // the thread pool.
        Assert.True(slowest < TimeSpan.FromMilliseconds(250), $"a sample took {slowest.TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task An_answer_that_is_not_an_exposition_is_a_failed_scrape_naming_the_line()
    {
        using var server = new ExpositionServer(Expositions.Read("vllm-0.txt"));
        using var source = Source(Vllm(server.Url));
        await SampleUntil(source, b => Fresh(b, Kv, 0.42), "the first scrape");

        server.Override = "<html><body>502 Bad Gateway</body></html>";
        await SampleUntil(source, b => Stale(b, Kv), "the series turning stale");

        Assert.Contains("not a Prometheus text exposition: line 1", Assert.Single(_warnings));
    }

    [Fact]
    public async Task A_mapping_whose_metric_the_target_lacks_is_stale_and_said_once_while_the_others_read()
    {
        using var server = new ExpositionServer(Expositions.Read("tgi.txt"));
        var target = new ScrapeTarget
        {
            Url = server.Url, Subsystem = "tgi", Interval = TimeSpan.FromMilliseconds(300), Timeout = TimeSpan.FromMilliseconds(300),
            Metrics =
            [
                new ScrapeMetric { Series = MetricNames.QueueDepth, Metric = "tgi_queue_size" },
                new ScrapeMetric { Series = MetricNames.KvCacheUtil, Metric = "vllm:gpu_cache_usage_perc" },
            ],
        };
        using var source = Source(target);

        await SampleUntil(source, b => Fresh(b, "queue_depth{subsystem=\"tgi\"}", 7) && server.Requests >= 3, "three scrapes");
        var buffer = await SampleUntil(source, b => Fresh(b, "queue_depth{subsystem=\"tgi\"}", 7), "the queue");

        Assert.True(Stale(buffer, "kv_cache_util{subsystem=\"tgi\"}"));
        Assert.Equal("Scrape of " + server.Url + ": kv_cache_util{subsystem=\"tgi\"} has no reading (the target exposes no vllm:gpu_cache_usage_perc); " +
                     "it stays stale until the target exposes it", Assert.Single(_warnings));
        Assert.Empty(_errors);
    }
}
