using System.Diagnostics;
using System.Text.RegularExpressions;
using Scarcity.Actors.ClusterTests.Harness;
using Scarcity.Actors.Core.Tests.Sensing.Scrape;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.ClusterTests;

/// <summary>
/// A governor process scraping a real HTTP endpoint that serves a recorded vLLM exposition for the demo engine (a
/// program governed through ClusterClient): the scraped KV cache usage drives the engine's rule, and the engine applies
/// the Throttle; the endpoint going down shows on the node's /metrics as scrape errors and a stale series.
/// </summary>
public sealed class ScrapeSpecs(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(150);
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task A_scraped_KV_cache_usage_makes_the_governed_engine_apply_a_Throttle_and_a_down_endpoint_shows_as_stale_and_counted()
    {
        using var endpoint = new ExpositionServer(File.ReadAllText(Path.Combine(RepoPaths.Root, "tests", "expositions", "vllm-1.txt")));
        var port = RepoPaths.FreePort();
        var metricsPort = RepoPaths.FreePort();
        const string rule = "--Scarcity:Policy:Policies:demo_engine:0:";
        const string target = "--Scarcity:Scrape:Targets:0:";
        const string vramRule = "--Scarcity:Policy:Policies:demo_engine:1:";
        // The endpoint answers the exposition before any node scrapes it.
        Assert.Contains("vllm:gpu_cache_usage_perc", await Http.GetStringAsync(endpoint.Url));
        await using var node = NodeProcess.Start(new NodeOptions(
            "scrape-node", "scrape-host", port, [], "Data Source=./data/scarcity.db", MetricsPort: metricsPort, Provider: "Sqlite",
            ExtraArgs:
            [
                "--demo",
                $"{target}Url={endpoint.Url}", $"{target}Subsystem=demo_engine", $"{target}Interval=00:00:02", $"{target}Timeout=00:00:02",
                $"{target}MaxBackoff=00:00:04",
                $"{target}Metrics:0:Series=kv_cache_util", $"{target}Metrics:0:Metric=vllm:gpu_cache_usage_perc",
                // The only rule on throttle: the engine's own latency moves it only through latency admission.
                $"{rule}Metric=kv_cache_util", $"{rule}Threshold=0.8", $"{rule}Release=0.7", $"{rule}Signal=Raw",
                $"{rule}Action=throttle", $"{rule}Factor=0.5",
                // The demo engine, ungoverned, runs out of VRAM at about 20 s; its restart would set throttle to the least
                // (latency admission: a down subsystem) and a late first scrape would find nothing left to cut.
                $"{vramRule}Metric=vram_util", $"{vramRule}Threshold=0.75", $"{vramRule}Release=0.6", $"{vramRule}Action=reduce_batch",
                $"{vramRule}Factor=0.5",
            ]));

        // vllm-1.txt: vllm:gpu_cache_usage_perc 0.87. The engine applies the rule's cut, whatever level it cuts from: the
        // rule halves the throttle from 1 when the first scrape comes in before anything else moved it, but a scrape that
        // comes in late (a cold start on a busy machine) may find the level latency admission set.
        var applied = await WaitForAsync(node,
            @"demo_engine applied seq=(?<seq>\d+) action=throttle level=(?<level>[0-9.]+) .*kv_cache_util raw > 0\.8 -> throttle x0\.5 \(kv_cache_util\{subsystem=""demo_engine""\} raw=0\.87");
        output.WriteLine(applied.Value);
        var seq = applied.Groups["seq"].Value;
        var decided = await WaitForAsync(node,
            $@"Decision demo_engine/throttle on scrape-host: (?<from>[0-9.]+) -> (?<to>[0-9.]+) seq {seq}: kv_cache_util raw > 0\.8");
        output.WriteLine(decided.Value);
        var from = Parse(decided.Groups["from"].Value);
        var to = Parse(decided.Groups["to"].Value);
        Assert.Equal(Math.Max(0.1, from * 0.5), to, 0.001); // x0.5, never below the policy's MinLevel (0.1)
        Assert.Equal(to, Parse(applied.Groups["level"].Value), 0.001);

        endpoint.Stop();
        var series = "scarcity_series_stale{host=\"scrape-host\",series=\"kv_cache_util{subsystem=\\\"demo_engine\\\"}\",metric=\"kv_cache_util\"} 1";
        var errors = new Regex($"scarcity_scrape_errors_total{{target=\"{Regex.Escape(endpoint.Url)}\",subsystem=\"demo_engine\"}} [1-9]");
        var clock = Stopwatch.StartNew();
        var text = "";
        while (!(text.Contains(series, StringComparison.Ordinal) && errors.IsMatch(text)))
        {
            if (clock.Elapsed > Deadline) Assert.Fail($"no stale series and scrape error on /metrics within {Deadline.TotalSeconds:0} s:{Environment.NewLine}{text}{Environment.NewLine}{node.Tail()}");
            await Task.Delay(500);
            try
            {
                text = await Http.GetStringAsync($"http://127.0.0.1:{metricsPort}/metrics");
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // a busy node; ask again
            }
        }
        await WaitForAsync(node, $"Scrape of {Regex.Escape(endpoint.Url)} \\(subsystem demo_engine\\) failed: Connection refused");
    }

    private static double Parse(string value) => double.Parse(value, System.Globalization.CultureInfo.InvariantCulture);

    // The line matching the pattern; on a timeout the failure carries, besides the output's tail, every line of the scrape,
    // the decisions and the engine's registrations and levels from the start (what the tail has long scrolled past).
    private static async Task<Match> WaitForAsync(NodeProcess node, string pattern)
    {
        try
        {
            return Regex.Match(await node.WaitForLineAsync(pattern, Deadline), pattern);
        }
        catch (TimeoutException e)
        {
            var story = node.Lines.Where(l => l.Contains("Scrape", StringComparison.Ordinal) || l.Contains("Decision", StringComparison.Ordinal)
                                              || l.Contains("registered", StringComparison.Ordinal) || l.Contains("ineffective", StringComparison.Ordinal)
                                              || l.Contains(" oom ", StringComparison.Ordinal));
            throw new TimeoutException($"{e.Message}{Environment.NewLine}--- scrape, decisions, registrations ---{Environment.NewLine}{string.Join(Environment.NewLine, story)}", e);
        }
    }
}
