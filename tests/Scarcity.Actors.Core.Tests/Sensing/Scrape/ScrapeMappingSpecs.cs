using Scarcity.Actors.Contracts;
using Scarcity.Actors.Sensing.Scrape;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Sensing.Scrape;

public sealed class ScrapeMappingSpecs
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly Exposition Vllm0 = Exposition.Parse(Expositions.Read("vllm-0.txt"));
    private static readonly Exposition Vllm1 = Exposition.Parse(Expositions.Read("vllm-1.txt"));
    private static readonly Exposition VllmRestarted = Exposition.Parse(Expositions.Read("vllm-2-restarted.txt"));

    private static ScrapeMapping Map(ScrapeMetric metric) => new(metric, "vllm");

    private static double? Read(ScrapeMapping mapping, Exposition e, double seconds) => mapping.Read(e, T0.AddSeconds(seconds), out _);

    [Fact]
    public void A_gauge_is_read_as_exposed_into_the_subsystems_series()
    {
        var kv = Map(new ScrapeMetric { Series = MetricNames.KvCacheUtil, Metric = "vllm:gpu_cache_usage_perc" });

        Assert.Equal("kv_cache_util{subsystem=\"vllm\"}", kv.Series);
        Assert.Equal(0.42, Read(kv, Vllm0, 0));
        Assert.Equal(0.87, Read(kv, Vllm1, 1));
    }

    [Fact]
    public void Scale_converts_units()
    {
        // A utilisation in percent to a fraction; a summary's quantile in seconds to milliseconds.
        var percent = Map(new ScrapeMetric { Series = MetricNames.GpuUtil, Metric = "gpu_busy_percent", Scale = 0.01 });
        var seconds = Map(new ScrapeMetric { Series = MetricNames.LatencyMs, Metric = "tgi_request_inference_duration", Labels = { ["quantile"] = "0.99" }, Scale = 1000 });

        Assert.Equal(0.73, percent.Read(ExpositionParser.Parse("gpu_busy_percent 73"), T0, out _)!.Value, 12);
        Assert.Equal(1870, seconds.Read(Exposition.Parse(Expositions.Read("tgi.txt")), T0, out _)!.Value, 9);
    }

    [Fact]
    public void Label_matchers_select_samples_and_several_matches_are_aggregated()
    {
        var triton = Exposition.Parse(Expositions.Read("triton.txt"));
        var resnet = Map(new ScrapeMetric { Series = MetricNames.QueueDepth, Metric = "nv_inference_pending_request_count", Labels = { ["model"] = "resnet50" } });
        var all = Map(new ScrapeMetric { Series = MetricNames.QueueDepth, Metric = "nv_inference_pending_request_count" });
        var worst = Map(new ScrapeMetric { Series = MetricNames.QueueDepth, Metric = "nv_inference_pending_request_count", Aggregate = ScrapeAggregate.Max });
        var absent = Map(new ScrapeMetric { Series = MetricNames.QueueDepth, Metric = "tgi_request_failure", Labels = { ["err"] = "" } });
        var none = Map(new ScrapeMetric { Series = MetricNames.QueueDepth, Metric = "nv_inference_pending_request_count", Labels = { ["model"] = "gpt2" } });

        Assert.Equal(5, resnet.Read(triton, T0, out _));
        Assert.Equal(7, all.Read(triton, T0, out _));
        Assert.Equal(5, worst.Read(triton, T0, out _));
        // An empty matcher wants the label absent: every tgi_request_failure sample carries err.
        Assert.Null(absent.Read(Exposition.Parse(Expositions.Read("tgi.txt")), T0, out var absentProblem));
        Assert.Contains("no sample of tgi_request_failure matches {err=\"\"}", absentProblem);
        Assert.Null(none.Read(triton, T0, out var problem));
        Assert.Contains("matches {model=\"gpt2\"}", problem);
        Assert.Null(Map(new ScrapeMetric { Series = MetricNames.QueueDepth, Metric = "vllm:nothing" }).Read(Vllm0, T0, out problem));
        Assert.Equal("the target exposes no vllm:nothing", problem);
    }

    [Fact]
    public void A_counter_reads_as_its_increase_per_second_and_counts_from_zero_after_a_reset()
    {
        var tokens = Map(new ScrapeMetric { Series = MetricNames.TokensPerSecond, Metric = "vllm:generation_tokens_total", Kind = ScrapeKind.Counter });

        var first = Read(tokens, Vllm0, 0);            // 45678: no rate from one reading
        var rate = Read(tokens, Vllm1, 2);             // 46678: +1000 in 2 s
        var afterRestart = Read(tokens, VllmRestarted, 4); // 120: the server restarted, so 120 since

        Assert.Null(first);
        Assert.Equal(500, rate);
        Assert.Equal(60, afterRestart);
        Assert.Equal(0, Read(tokens, VllmRestarted, 5)); // unchanged since: 0 per second, not stale
    }

    [Fact]
    public void A_counter_over_several_series_sums_their_rates_each_with_its_own_reset()
    {
        var queue = Map(new ScrapeMetric { Series = MetricNames.LatencyMs, Metric = "q_us_total", Kind = ScrapeKind.Counter, Scale = 0.001 });

        Read(queue, ExpositionParser.Parse("q_us_total{model=\"a\"} 1000\nq_us_total{model=\"b\"} 5000"), 0);
        // a: +3000; b restarted at 2000 (counts 2000); a new model c contributes from its next reading.
        var rate = Read(queue, ExpositionParser.Parse("q_us_total{model=\"a\"} 4000\nq_us_total{model=\"b\"} 2000\nq_us_total{model=\"c\"} 9"), 1);

        Assert.Equal(5, rate!.Value, 9); // (3000 + 2000) us per second, scaled to ms per second
    }

    [Fact]
    public void A_counter_per_another_reads_as_the_mean_per_event_of_the_interval()
    {
        // Triton: cumulative queue time per successful request, for one model.
        var queue = Map(new ScrapeMetric
        {
            Series = MetricNames.LatencyMs, Metric = "nv_inference_queue_duration_us", Per = "nv_inference_request_success",
            Kind = ScrapeKind.Counter, Labels = { ["model"] = "resnet50" }, Scale = 0.001,
        });
        static Exposition Triton(int queueUs, int requests) => ExpositionParser.Parse(
            $"nv_inference_queue_duration_us{{model=\"resnet50\",version=\"1\"}} {queueUs}\n" +
            $"nv_inference_queue_duration_us{{model=\"bert\",version=\"1\"}} {queueUs * 7}\n" +
            $"nv_inference_request_success{{model=\"resnet50\",version=\"1\"}} {requests}\n" +
            $"nv_inference_request_success{{model=\"bert\",version=\"1\"}} 1");

        Assert.Null(Read(queue, Triton(1000, 10), 0));
        Assert.Equal(1.0, Read(queue, Triton(4000, 13), 1)!.Value, 12); // 3000 us over 3 requests
        Assert.Null(Read(queue, Triton(4000, 13), 2));                   // no request: no mean, not 0
        Assert.Equal(0.5, Read(queue, Triton(500, 1), 3)!.Value, 12);    // restarted: 500 us over 1 request

        // A histogram's _sum per its _count: the mean first-token time of the 100 requests between two scrapes.
        var mean = Map(new ScrapeMetric
        {
            Series = MetricNames.LatencyMs, Metric = "vllm:time_to_first_token_seconds_sum", Per = "vllm:time_to_first_token_seconds_count",
            Kind = ScrapeKind.Counter, Scale = 1000,
        });
        Read(mean, Vllm0, 0);
        Assert.Equal(385, Read(mean, Vllm1, 1)!.Value, 9); // (69.75 - 31.25) s / 100
    }

    [Fact]
    public void A_histogram_reads_as_a_quantile_of_the_observations_within_its_window()
    {
        var p99 = Map(new ScrapeMetric
        {
            Series = MetricNames.LatencyMs, Metric = "vllm:time_to_first_token_seconds", Kind = ScrapeKind.Histogram,
            Quantile = 0.99, Window = TimeSpan.FromSeconds(30), Scale = 1000,
        });

        var first = Read(p99, Vllm0, 0);
        // 100 first tokens since, all between 0.25 s and 0.5 s: the 99th lies 99 % into that bucket.
        var windowed = Read(p99, Vllm1, 10);

        Assert.Null(first); // the lifetime buckets say nothing of the last 30 s
        Assert.Equal(497.5, windowed!.Value, 9);
        // Nothing new, but the burst is still within the last 30 s.
        Assert.Equal(497.5, Read(p99, Vllm1, 20)!.Value, 9);
        // A window after it, with nothing observed since: no quantile (the series turns stale), not zero.
        Assert.Null(Read(p99, Vllm1, 45));
    }

    [Fact]
    public void A_histogram_quantile_forgets_what_left_the_window()
    {
        var p50 = Map(new ScrapeMetric { Series = MetricNames.LatencyMs, Metric = "h", Kind = ScrapeKind.Histogram, Quantile = 0.5, Window = TimeSpan.FromSeconds(10) });
        static Exposition H(int fast, int slow) => ExpositionParser.Parse(
            $"# TYPE h histogram\nh_bucket{{le=\"0.1\"}} {fast}\nh_bucket{{le=\"1\"}} {fast + slow}\nh_bucket{{le=\"+Inf\"}} {fast + slow}\nh_count {fast + slow}\nh_sum 0");

        Read(p50, H(0, 0), 0);
        var slow = Read(p50, H(0, 100), 5);      // 100 slow ones: the median is in (0.1, 1]
        var mixed = Read(p50, H(300, 100), 12);    // window from 2 s: measured from the reading at 0 s (the newest at or before 2 s)
        var fastOnly = Read(p50, H(600, 100), 20); // window from 10 s: measured from the reading at 5 s; the slow ones left it

        Assert.Equal(0.55, slow!.Value, 9);
        Assert.Equal(0.1 * 200 / 300, mixed!.Value, 9); // 300 fast + 100 slow since 0 s: rank 200 of 300 in the first bucket
        Assert.Equal(0.1 * 300 / 600, fastOnly!.Value, 9); // since 5 s: 600 fast, 0 slow
    }

    [Fact]
    public void A_histogram_of_a_restarted_server_counts_every_observation_since_the_restart()
    {
        var p99 = Map(new ScrapeMetric
        {
            Series = MetricNames.LatencyMs, Metric = "vllm:time_to_first_token_seconds", Kind = ScrapeKind.Histogram,
            Quantile = 0.99, Scale = 1000,
        });

        Read(p99, Vllm0, 0);
        Read(p99, Vllm1, 1);
        var restarted = Read(p99, VllmRestarted, 2);

        // 5 since the restart, 4 at most 1 s, 1 in (1 s, 2.5 s]: rank 4.95 lies 95 % into that bucket.
        Assert.Equal(2425, restarted!.Value, 9);
    }

    [Fact]
    public void A_quantile_in_the_plus_Inf_bucket_is_the_highest_finite_bound_as_in_PromQL()
    {
        Assert.Equal(1.0, ScrapeMapping.Quantile(0.99, [0.5, 1, double.PositiveInfinity], [0, 10, 100]));
        Assert.Equal(0.25, ScrapeMapping.Quantile(0.5, [0.5, 1, double.PositiveInfinity], [100, 100, 100]));
        Assert.Null(ScrapeMapping.Quantile(0.5, [0.5, double.PositiveInfinity], [0, 0]));
    }

    [Fact]
    public void A_histogram_without_the_plus_Inf_bucket_has_no_reading_and_says_why()
    {
        var p99 = Map(new ScrapeMetric { Series = MetricNames.LatencyMs, Metric = "h", Kind = ScrapeKind.Histogram, Quantile = 0.99 });

        Assert.Null(p99.Read(ExpositionParser.Parse("h_bucket{le=\"1\"} 3"), T0, out var problem));
        Assert.Equal("h_bucket has no le=\"+Inf\" bucket", problem);
    }

    [Fact]
    public void A_NaN_gauge_has_no_reading()
    {
        var kv = Map(new ScrapeMetric { Series = MetricNames.KvCacheUtil, Metric = "x" });

        Assert.Null(kv.Read(ExpositionParser.Parse("x NaN"), T0, out var problem));
        Assert.Equal("x is NaN", problem);
    }
}
