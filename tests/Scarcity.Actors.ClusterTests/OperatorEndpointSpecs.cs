using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Scarcity.Actors.ClusterTests.Harness;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.ClusterTests;

/// <summary>
/// One governor process on SQLite with its operator endpoint on a free loopback port: a real Prometheus
/// (<c>/usr/bin/prometheus</c>, installed by scripts/test.sh) scrapes it, the Grafana dashboard's queries run against that
/// Prometheus, and <c>/readyz</c> follows the database.
/// </summary>
public sealed class OperatorEndpointSpecs(ITestOutputHelper output)
{
    private const string PrometheusBinary = "/usr/bin/prometheus";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(150);
    private static readonly string Dashboard = Path.Combine(RepoPaths.Root, "cluster-config", "grafana", "scarcity.json");
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    // Queries of the dashboard that must return data from one node governing the demo engine (--demo: a subsystem that
    // registers through ClusterClient and gets reduce_batch decisions within its first surge): the fleet pressure, the
    // per-host forecast and band, the cluster health, and the subsystem's levels, decisions and Throttles. The retry,
    // supersession and rejection counters are accepted but may stay empty on a healthy run.
    private static readonly string[] MustHaveData =
    [
        "scarcity_host_pressure_level", "scarcity_series_forecast", "scarcity_series_forecast_stddev", "scarcity_cluster_members",
        "scarcity_shards", "scarcity_sampling_duration_seconds_bucket", "scarcity_sensor_last_sample_age_seconds",
        "scarcity_subsystem_level", "scarcity_decisions_total", "scarcity_throttles_sent_total", "scarcity_throttles_acked_total",
        "scarcity_sample_to_throttle_seconds_bucket",
    ];

    [Fact]
    public async Task Prometheus_scrapes_the_node_and_every_dashboard_query_is_valid_PromQL_with_the_fleet_cluster_and_subsystem_panels_returning_data()
    {
        Assert.True(File.Exists(PrometheusBinary),
            $"{PrometheusBinary} is absent: scripts/test.sh installs Debian's prometheus (apt-get install -y prometheus); without it this spec cannot run");
        await using var node = StartNode(out var metricsPort, demo: true);
        await AwaitMetricsAsync(node, metricsPort);

        var promPort = DistinctFreePort(metricsPort, node.Options.Port);
        var dir = Directory.CreateTempSubdirectory("scarcity-prometheus-").FullName;
        var config = Path.Combine(dir, "prometheus.yml");
        File.WriteAllText(config, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: scarcity
                static_configs:
                  - targets: ['127.0.0.1:{metricsPort}']
            """);
        using var prometheus = StartPrometheus(config, promPort, Path.Combine(dir, "data"));
        try
        {
            var queries = DashboardQueries();
            Assert.True(queries.Count >= 15, $"the dashboard has {queries.Count} queries");
            var clock = Stopwatch.StartNew();
            var pending = new HashSet<string>(MustHaveData);
            while (pending.Count > 0)
            {
                if (prometheus.HasExited) Assert.Fail($"prometheus exited ({prometheus.ExitCode})");
                foreach (var query in queries)
                {
                    var (ok, results, error) = await QueryAsync(promPort, query);
                    Assert.True(ok, $"Prometheus rejected the dashboard query `{query}`: {error}");
                    // "or vector(0)" answers even with no series: such a query proves nothing about the data.
                    if (results > 0 && !query.Contains("or vector(0)", StringComparison.Ordinal)) pending.RemoveWhere(name => MetricNamesOf(query).Contains(name));
                }
                if (pending.Count == 0) break;
                if (clock.Elapsed > Deadline)
                    Assert.Fail($"within {Deadline.TotalSeconds:0} s no dashboard query over {string.Join(", ", pending)} returned data{Environment.NewLine}{node.Tail()}");
                await Task.Delay(1000);
            }
            output.WriteLine($"{queries.Count} dashboard queries accepted; the fleet, cluster and subsystem panels had data after {clock.Elapsed.TotalSeconds:0.0} s");
            // The scrape itself succeeded: Prometheus's own up series for the target.
            var (_, up, _) = await QueryAsync(promPort, "up{job=\"scarcity\"} == 1");
            Assert.Equal(1, up);
        }
        finally
        {
            prometheus.Kill(entireProcessTree: true);
            await prometheus.WaitForExitAsync();
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { /* the temp folder */ }
        }
    }

    [Fact]
    public async Task Every_metric_name_in_the_dashboards_queries_is_one_the_node_exports_and_every_export_is_documented()
    {
        await using var node = StartNode(out var metricsPort);
        var exposition = await AwaitMetricsAsync(node, metricsPort);
        // Every instrument is declared (# TYPE) even before its first labelled value; histograms add three series names.
        var exported = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match m in Regex.Matches(exposition, @"^# TYPE (\S+) (\S+)$", RegexOptions.Multiline))
        {
            exported.Add(m.Groups[1].Value);
            if (m.Groups[2].Value == "histogram")
                foreach (var suffix in new[] { "_bucket", "_sum", "_count" }) exported.Add(m.Groups[1].Value + suffix);
        }
        var queries = DashboardQueries();
        var used = queries.SelectMany(MetricNamesOf).ToHashSet();
        Assert.NotEmpty(used);
        var unknown = used.Where(n => !exported.Contains(n)).Order().ToList();
        Assert.True(unknown.Count == 0, $"the dashboard queries metrics the governor does not export: {string.Join(", ", unknown)}");
        // And every query names at least one of ours (or Prometheus's own up).
        Assert.All(queries, q => Assert.True(MetricNamesOf(q).Count > 0 || q.Contains("up{"), $"query without a governor metric: {q}"));
        // And every instrument the node declares has its row in docs/operations.md.
        var operations = File.ReadAllText(Path.Combine(RepoPaths.Root, "docs", "operations.md"));
        var declared = Regex.Matches(exposition, @"^# TYPE (scarcity_\S+) ", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToList();
        Assert.True(declared.Count >= 25, $"only {declared.Count} scarcity_ instruments declared");
        var undocumented = declared.Where(n => !operations.Contains($"| `{n}` |", StringComparison.Ordinal)).ToList();
        Assert.True(undocumented.Count == 0, $"metrics missing from docs/operations.md's table: {string.Join(", ", undocumented)}");
        output.WriteLine($"{used.Count} metric names in {queries.Count} queries, all among {exported.Count} exported");
    }

    [Fact]
    public async Task Readyz_turns_unready_naming_the_database_when_its_directory_goes_away_and_ready_again_when_it_returns()
    {
        await using var node = StartNode(out var metricsPort);
        await AwaitMetricsAsync(node, metricsPort);
        var data = Path.Combine(node.Directory, "data");
        var away = Path.Combine(node.Directory, "data-away");

        var (status, body) = await AwaitReadyzAsync(metricsPort, HttpStatusCode.OK);
        Assert.Equal("Healthy", Check(body, "persistence").Status);
        var live = await Http.GetAsync($"http://127.0.0.1:{metricsPort}/healthz");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);

        Directory.Move(data, away);
        try
        {
            (status, body) = await AwaitReadyzAsync(metricsPort, HttpStatusCode.ServiceUnavailable);
            var persistence = Check(body, "persistence");
            Assert.Equal("Unhealthy", persistence.Status);
            Assert.Contains("Sqlite unreachable", persistence.Reason);
            Assert.Equal("Healthy", Check(body, "cluster").Status); // only the database is to blame
            live = await Http.GetAsync($"http://127.0.0.1:{metricsPort}/healthz");
            Assert.Equal(HttpStatusCode.OK, live.StatusCode); // the process lives on: not a reason to restart it
        }
        finally
        {
            Directory.Move(away, data);
        }
        (status, body) = await AwaitReadyzAsync(metricsPort, HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Healthy", Check(body, "persistence").Status);
    }

    private NodeProcess StartNode(out int metricsPort, bool demo = false)
    {
        var port = RepoPaths.FreePort();
        metricsPort = DistinctFreePort(port);
        // Relative to the node's own folder: ./data/scarcity.db, so a spec can take its directory away.
        return NodeProcess.Start(new NodeOptions(
            "operator-node", "operator-host", port, [], "Data Source=./data/scarcity.db",
            MetricsPort: metricsPort, Provider: "Sqlite", ExtraArgs: demo ? ["--demo"] : null));
    }

    private static int DistinctFreePort(params int[] taken)
    {
        while (true)
        {
            var port = RepoPaths.FreePort();
            if (!taken.Contains(port)) return port;
        }
    }

    private static async Task<string> AwaitMetricsAsync(NodeProcess node, int port)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (node.HasExited) Assert.Fail($"the node exited{Environment.NewLine}{node.Tail()}");
            try
            {
                var text = await Http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
                if (text.Contains("scarcity_series_forecast{", StringComparison.Ordinal)) return text;
            }
            catch (HttpRequestException) { /* not listening yet */ }
            catch (TaskCanceledException) { /* busy starting */ }
            if (clock.Elapsed > Deadline) Assert.Fail($"no series on /metrics of port {port} within {Deadline.TotalSeconds:0} s{Environment.NewLine}{node.Tail()}");
            await Task.Delay(500);
        }
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> AwaitReadyzAsync(int port, HttpStatusCode expected)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var response = await Http.GetAsync($"http://127.0.0.1:{port}/readyz");
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
            if (response.StatusCode == expected) return (response.StatusCode, body);
            if (clock.Elapsed > TimeSpan.FromSeconds(30))
                Assert.Fail($"/readyz stayed {(int)response.StatusCode}, expected {(int)expected}: {body}");
            await Task.Delay(250);
        }
    }

    private static (string Status, string Reason) Check(JsonElement body, string name)
    {
        var check = body.GetProperty("checks").GetProperty(name);
        return (check.GetProperty("status").GetString()!, check.GetProperty("reason").GetString()!);
    }

    private static Process StartPrometheus(string config, int port, string storage)
    {
        var psi = new ProcessStartInfo(PrometheusBinary)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var arg in new[] { $"--config.file={config}", $"--web.listen-address=127.0.0.1:{port}", $"--storage.tsdb.path={storage}" })
            psi.ArgumentList.Add(arg);
        var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Every PromQL expression of the dashboard, Grafana's variables replaced by what "All" selects.</summary>
    private static List<string> DashboardQueries()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Dashboard));
        var queries = new List<string>();
        void Walk(JsonElement e)
        {
            if (e.ValueKind == JsonValueKind.Object)
            {
                foreach (var p in e.EnumerateObject())
                    if (p.Name == "expr" && p.Value.ValueKind == JsonValueKind.String) queries.Add(p.Value.GetString()!);
                    else Walk(p.Value);
            }
            else if (e.ValueKind == JsonValueKind.Array)
                foreach (var item in e.EnumerateArray()) Walk(item);
        }
        Walk(doc.RootElement);
        return queries.Select(q => q
            .Replace("$__rate_interval", "1m", StringComparison.Ordinal)
            .Replace("$host", ".*", StringComparison.Ordinal)
            .Replace("$subsystem", ".*", StringComparison.Ordinal)
            .Replace("$metric", ".*", StringComparison.Ordinal)
            .Replace("$job", ".*", StringComparison.Ordinal)).ToList();
    }

    private static HashSet<string> MetricNamesOf(string query) =>
        Regex.Matches(query, @"\bscarcity_[a-z0-9_]+\b").Select(m => m.Value).ToHashSet();

    private static async Task<(bool Ok, int Results, string Error)> QueryAsync(int port, string query)
    {
        HttpResponseMessage response;
        try
        {
            response = await Http.GetAsync($"http://127.0.0.1:{port}/api/v1/query?query={Uri.EscapeDataString(query)}");
        }
        catch (HttpRequestException)
        {
            return (true, 0, ""); // Prometheus not listening yet: nothing to judge
        }
        // Until its storage is open Prometheus answers 503 "Service Unavailable" in plain text (seen in a CI-like run):
        // not ready yet, nothing to judge; the loop asks again.
        if (response.StatusCode == HttpStatusCode.ServiceUnavailable) return (true, 0, "");
        var text = await response.Content.ReadAsStringAsync();
        JsonElement body;
        try
        {
            body = JsonDocument.Parse(text).RootElement;
        }
        catch (JsonException)
        {
            return (false, 0, $"HTTP {(int)response.StatusCode}, not JSON: {text[..Math.Min(200, text.Length)]}");
        }
        if (body.GetProperty("status").GetString() != "success") return (false, 0, body.GetProperty("error").GetString() ?? "");
        var data = body.GetProperty("data");
        var results = data.GetProperty("resultType").GetString() is "vector" or "matrix" ? data.GetProperty("result").GetArrayLength() : 1;
        return (true, results, "");
    }
}
