using Akka.Actor;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Core.Tests.Sensing.Scrape;
using Scarcity.Actors.Metrics;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Sensing.Scrape;
using Scarcity.Actors.Testing;
using Xunit;

namespace Scarcity.Actors.Tests.Sensing;

/// <summary>
/// A scraped series through the whole pipeline of a real node: the sensor (this machine's /proc, plus the scrape of a
/// real HTTP endpoint serving a recorded vLLM exposition), the host's profiler, the subsystem's rules, its Throttle.
/// </summary>
public sealed class ScrapePipelineSpecs : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private GovernorHost? _host;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_host is null) return;
        await _host.DisposeAsync();
        _host.DeleteDatabase();
    }

    [Fact]
    public async Task A_vLLM_servers_scraped_KV_cache_usage_drives_a_rule_of_its_subsystem_to_a_Throttle()
    {
        using var server = new ExpositionServer(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Expositions", "vllm-1.txt")));
        var config = GovernorHost.SpecConfig();
        config.Cluster.Roles.Add("sensor");
        config.Gpu.Enabled = false;
        config.Policy.Policies["vllm"] =
            [new PolicyRule(MetricNames.KvCacheUtil, 0.8, ActionNames.Throttle, 0.5) { Signal = SignalKind.Raw, Release = 0.7 }];
        config.Scrape.Targets.Add(new ScrapeTarget
        {
            Url = server.Url,
            Subsystem = "vllm",
            Interval = TimeSpan.FromMilliseconds(500),
            Timeout = TimeSpan.FromMilliseconds(500),
            MaxBackoff = TimeSpan.FromSeconds(1),
            Metrics = [new ScrapeMetric { Series = MetricNames.KvCacheUtil, Metric = "vllm:gpu_cache_usage_perc" }],
        });
        _host = await GovernorHost.StartAsync(config);
        var kit = new Akka.TestKit.Xunit2.TestKit(_host.System);
        var engine = kit.CreateTestProbe();

        _host.Policy.Tell(new RegisterSubsystem("vllm", "spec-host", 5, [ActionNames.Throttle], engine.Ref), engine.Ref);
        engine.ExpectMsg<SubsystemRegistered>(Wait);
        var throttle = engine.FishForMessage<Throttle>(_ => true, Wait);

        Assert.Equal(ActionNames.Throttle, throttle.Action);
        Assert.Equal(0.5, throttle.Level);
        Assert.Contains("kv_cache_util", throttle.Reason.Rule);
        Assert.Equal(0.87, throttle.Reason.Value, 9);

        // The endpoint goes down: counted per target, and the level holds (a stale series is no reason to recover).
        engine.Reply(new ThrottleAck("vllm", throttle.Sequence, true, "applied"));
        server.Stop();
        var errors = GovernorMetrics.Get(_host.System).ScrapeErrors.WithLabels(server.Url, "vllm");
        await kit.AwaitConditionAsync(() => Task.FromResult(errors.Value > 0), Wait);
        engine.ExpectNoMsg(TimeSpan.FromSeconds(2));
    }
}
