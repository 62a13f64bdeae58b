using Microsoft.Extensions.Configuration;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Sensing.Scrape;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Sensing.Scrape;

public sealed class ScrapeConfigSpecs
{
    private const string T = "Scarcity:Scrape:Targets:0";

    // A later value of a key replaces an earlier one, as a later configuration source would.
    private static DRGConfig Load(params (string Key, string Value)[] values) =>
        DRGConfig.Load(new ConfigurationBuilder().AddInMemoryCollection(values
            .GroupBy(v => v.Key).Select(g => new KeyValuePair<string, string?>(g.Key, g.Last().Value))).Build());

    private static (string, string)[] Vllm(params (string, string)[] more) =>
    [
        ($"{T}:Url", "http://127.0.0.1:8000/metrics"),
        ($"{T}:Subsystem", "vllm"),
        ($"{T}:Metrics:0:Series", "kv_cache_util"),
        ($"{T}:Metrics:0:Metric", "vllm:gpu_cache_usage_perc"),
        ($"{T}:Metrics:1:Series", "queue_depth"),
        ($"{T}:Metrics:1:Metric", "vllm:num_requests_waiting"),
        ($"{T}:Metrics:2:Series", "latency_ms"),
        ($"{T}:Metrics:2:Metric", "vllm:time_to_first_token_seconds"),
        ($"{T}:Metrics:2:Kind", "Histogram"),
        ($"{T}:Metrics:2:Quantile", "0.99"),
        ($"{T}:Metrics:2:Scale", "1000"),
        .. more,
    ];

    [Fact]
    public void Nothing_is_scraped_by_default()
    {
        Assert.Empty(Load().Scrape.Targets);
    }

    [Fact]
    public void A_target_binds_with_its_defaults()
    {
        var target = Assert.Single(Load(Vllm()).Scrape.Targets);

        Assert.Equal(TimeSpan.FromSeconds(1), target.Interval);
        Assert.Equal(TimeSpan.FromMilliseconds(500), target.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(30), target.MaxBackoff);
        Assert.Equal(ScrapeKind.Gauge, target.Metrics[0].Kind);
        Assert.Equal(ScrapeKind.Histogram, target.Metrics[2].Kind);
        Assert.Equal(0.99, target.Metrics[2].Quantile);
        Assert.Equal(TimeSpan.FromSeconds(30), target.Metrics[2].Window);
        Assert.Equal(1000, target.Metrics[2].Scale);
    }

    [Theory]
    [InlineData("Metrics:2:Quantile", "1.5", "Scarcity:Scrape:Targets:0:Metrics:2:Quantile must be in (0, 1), was 1.5")]
    [InlineData("Metrics:2:Quantile", "0", "Scarcity:Scrape:Targets:0:Metrics:2:Quantile must be in (0, 1), was 0")]
    [InlineData("Metrics:2:Window", "00:00:00", "Scarcity:Scrape:Targets:0:Metrics:2:Window must be positive, was 00:00:00")]
    [InlineData("Metrics:1:Kind", "Summary", "Scarcity:Scrape:Targets:0:Metrics:1:Kind 'Summary' is not one of Gauge, Counter, Histogram")]
    [InlineData("Metrics:0:Series", "kv_cache_usage", "Scarcity:Scrape:Targets:0:Metrics:0:Series 'kv_cache_usage' is not a known metric")]
    [InlineData("Metrics:0:Series", "latency_ms{subsystem=\"x\"}", "Scarcity:Scrape:Targets:0:Metrics:0:Series 'latency_ms{subsystem=\"x\"}' must be unlabelled")]
    [InlineData("Metrics:0:Metric", "vllm gpu", "Scarcity:Scrape:Targets:0:Metrics:0:Metric 'vllm gpu' is not a Prometheus metric name")]
    [InlineData("Metrics:1:Quantile", "0.5", "Scarcity:Scrape:Targets:0:Metrics:1:Quantile applies to a Histogram mapping only")]
    [InlineData("Metrics:1:Per", "vllm:num_requests_running", "Scarcity:Scrape:Targets:0:Metrics:1:Per applies to a Counter mapping only, this one is Gauge")]
    [InlineData("Metrics:1:Scale", "0", "Scarcity:Scrape:Targets:0:Metrics:1:Scale must be a finite, non-zero number, was 0")]
    [InlineData("Url", "127.0.0.1:8000/metrics", "Scarcity:Scrape:Targets:0:Url '127.0.0.1:8000/metrics' is not an http:// or https:// URL")]
    [InlineData("Url", "ftp://h/metrics", "Scarcity:Scrape:Targets:0:Url 'ftp://h/metrics' is not an http:// or https:// URL")]
    [InlineData("Url", "", "Scarcity:Scrape:Targets:0:Url is missing")]
    [InlineData("Subsystem", "", "Scarcity:Scrape:Targets:0:Subsystem is missing")]
    [InlineData("Timeout", "00:00:02", "Scarcity:Scrape:Targets:0:Timeout must be positive and at most Scarcity:Scrape:Targets:0:Interval (00:00:01), was 00:00:02")]
    [InlineData("Interval", "-00:00:01", "Scarcity:Scrape:Targets:0:Interval must be positive, was -00:00:01")]
    public void A_bad_mapping_fails_at_start_up_naming_its_key(string key, string value, string expected)
    {
        var error = Assert.Throws<DRGConfigException>(() => Load(Vllm(($"{T}:{key}", value))));

        Assert.Contains(error.Errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Every_problem_of_every_target_is_listed_at_once()
    {
        var error = Assert.Throws<DRGConfigException>(() => Load(Vllm(
            ($"{T}:Metrics:2:Quantile", "2"),
            ($"{T}:Metrics:1:Kind", "Gauges"),
            ("Scarcity:Scrape:Targets:1:Subsystem", "tgi"),
            ("Scarcity:Scrape:Targets:1:Metrics:0:Series", "queue_depth"),
            ("Scarcity:Scrape:Targets:1:Metrics:0:Metric", "tgi_request_duration"),
            ("Scarcity:Scrape:Targets:1:Metrics:0:Kind", "Histogram"))));

        Assert.Contains(error.Errors, e => e.StartsWith($"{T}:Metrics:2:Quantile", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith($"{T}:Metrics:1:Kind", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("Scarcity:Scrape:Targets:1:Url is missing", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("Scarcity:Scrape:Targets:1:Metrics:0:Quantile is missing", StringComparison.Ordinal));
    }

    [Fact]
    public void A_misspelt_key_of_a_mapping_is_named()
    {
        var error = Assert.Throws<DRGConfigException>(() => Load(Vllm(($"{T}:Metrics:0:Quantil", "0.9"))));

        Assert.Contains(error.Errors, e => e.StartsWith($"{T}:Metrics:0:Quantil is not a known key", StringComparison.Ordinal));
    }

    [Fact]
    public void Two_targets_feeding_one_series_of_one_subsystem_are_refused()
    {
        var error = Assert.Throws<DRGConfigException>(() => Load(Vllm(
            ("Scarcity:Scrape:Targets:1:Url", "http://127.0.0.1:8001/metrics"),
            ("Scarcity:Scrape:Targets:1:Subsystem", "vllm"),
            ("Scarcity:Scrape:Targets:1:Metrics:0:Series", "queue_depth"),
            ("Scarcity:Scrape:Targets:1:Metrics:0:Metric", "vllm:num_requests_running"))));

        Assert.Contains("Scarcity:Scrape:Targets:1:Metrics:0:Series 'queue_depth' of subsystem 'vllm' is already fed by Scarcity:Scrape:Targets:0:Metrics:1:Series",
            error.Errors);
    }

    [Fact]
    public void A_sensor_node_scrapes_the_targets_of_its_host_and_those_that_name_none()
    {
        var config = Load(Vllm(
            ("Scarcity:Scrape:Targets:1:Url", "http://gpu-02:8000/metrics"),
            ("Scarcity:Scrape:Targets:1:Subsystem", "vllm-02"),
            ("Scarcity:Scrape:Targets:1:Host", "gpu-02"),
            ("Scarcity:Scrape:Targets:1:Metrics:0:Series", "kv_cache_util"),
            ("Scarcity:Scrape:Targets:1:Metrics:0:Metric", "vllm:gpu_cache_usage_perc")));

        Assert.Single(config.Scrape.TargetsOf("gpu-01"));
        Assert.Equal(2, config.Scrape.TargetsOf("gpu-02").Count);
    }
}
