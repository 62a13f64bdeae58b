using System.Diagnostics;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Sensing;
using Scarcity.Actors.Sensing.Nvml;
using Scarcity.Actors.Sensing.Scrape;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Sensing.Scrape;

/// <summary>The scrape source beside the machine's own, as the sensor node composes them (<see cref="SensorSources.WithScrape"/>).</summary>
public sealed class ScrapeCompositionSpecs
{
    private static ScrapeSensorSource Scrape(string url, List<string> lines) => new(
        [new ScrapeTarget
        {
            Url = url, Subsystem = "vllm", Interval = TimeSpan.FromMilliseconds(300), Timeout = TimeSpan.FromMilliseconds(300),
            Metrics = [new ScrapeMetric { Series = MetricNames.KvCacheUtil, Metric = "vllm:gpu_cache_usage_perc" }],
        }], TimeSpan.FromMilliseconds(250), lines.Add, lines.Add);

    [Fact]
    public async Task Each_sample_has_this_machines_series_and_the_scraped_ones()
    {
        using var server = new ExpositionServer(Expositions.Read("vllm-0.txt"));
        var lines = new List<string>();
        var machine = SensorSources.Create(new SensorConfig(), new NvmlConfig { Enabled = false }, lines.Add, lines.Add);
        using var sensor = SensorSources.WithScrape(machine, Scrape(server.Url, lines), lines.Add);
        var buffer = new MetricBuffer();

        var clock = Stopwatch.StartNew();
        do
        {
            await Task.Delay(250);
            buffer.Clear();
            sensor.Sample(buffer, DateTimeOffset.UtcNow);
        } while (buffer.Find("kv_cache_util{subsystem=\"vllm\"}") is null && clock.Elapsed < TimeSpan.FromSeconds(30));

        Assert.Equal(0.42, buffer.Find("kv_cache_util{subsystem=\"vllm\"}"));
        Assert.NotNull(buffer.Find(MetricNames.MemUtil));
        Assert.Equal("linux+scrape(vllm)", sensor.Name);
    }

    [Fact]
    public void A_replayed_trace_is_not_scraped_and_says_so()
    {
        var lines = new List<string>();
        var trace = new TraceSensorSource(Path.Combine(AppContext.BaseDirectory, "Traces", "vram-step.csv"));

        using var sensor = SensorSources.WithScrape(trace, Scrape("http://127.0.0.1:1/metrics", lines), lines.Add);

        Assert.Same(trace, sensor);
        Assert.Equal("Sensor: scrape(vllm) is not scraped while trace:vram-step.csv is replayed", Assert.Single(lines));
    }
}
