using Scarcity.Actors.Testing;
using System.Collections.Immutable;
using System.Text.Json;
using Akka.Actor;
using Scarcity.Actors.Contracts;
using Xunit;

namespace Scarcity.Actors.Cli.Tests;

/// <summary>One 3-node cluster for every read-only command.</summary>
public sealed class CliClusterFixture : IAsyncLifetime
{
    public CliCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await CliCluster.StartAsync();

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>An engine that applies every Throttle and acknowledges it, and tells the spec.</summary>
internal sealed class AckingEngine : ReceiveActor
{
    public AckingEngine(TaskCompletionSource<Throttle> firstThrottle)
    {
        Receive<SubsystemRegistered>(_ => { });
        Receive<Throttle>(t =>
        {
            Sender.Tell(new ThrottleAck(t.Subsystem, t.Sequence, true, "applied"));
            firstThrottle.TrySetResult(t);
        });
    }
}

/// <summary>Each query command, in-process, against the cluster, asserted on its --json shape.</summary>
public sealed class CliQuerySpecs(CliClusterFixture fixture) : IClassFixture<CliClusterFixture>
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private CliCluster Cluster => fixture.Cluster;
    private string Contact => Cluster.Nodes[0].Address;

    private static async Task<CliRun> Ok(params string[] args)
    {
        var run = await CliRun.Of(args);
        Assert.True(run.ExitCode == 0, run.ToString());
        return run;
    }

    private static IEnumerable<string> Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!);

    [Fact]
    public async Task Cluster_show_lists_every_member_with_its_status_roles_and_the_leader()
    {
        var run = await Ok("cluster", "show", "--json", "--contact", Contact);

        var members = run.Json.GetProperty("members").EnumerateArray().ToList();
        Assert.Equal(Cluster.Nodes.Select(n => n.Address).Order(StringComparer.Ordinal), members.Select(m => m.GetProperty("address").GetString()));
        Assert.All(members, m => Assert.Equal("Up", m.GetProperty("status").GetString()));
        Assert.All(members, m => Assert.True(m.GetProperty("reachable").GetBoolean()));
        var sensor = members.Single(m => m.GetProperty("address").GetString() == Cluster.Nodes[2].Address);
        Assert.Equal(["sensor"], Strings(sensor.GetProperty("roles")));
        var leader = run.Json.GetProperty("leader").GetString();
        Assert.Contains(leader, Cluster.Nodes.Select(n => n.Address));
        Assert.Single(members, m => m.GetProperty("leader").GetBoolean());
        Assert.Empty(run.Json.GetProperty("unreachable").EnumerateArray());
    }

    [Fact]
    public async Task Nodes_and_node_show_pressure_metrics_forecast_band_and_every_gpu()
    {
        var profilers = Cluster.Nodes[1].Profilers;
        Sample At(int i) => new("gpu-x", T0.AddSeconds(i * 0.25),
            [new(MetricNames.VramUtil, 0.9), new("vram_util{gpu=\"0\"}", 0.9), new("vram_util{gpu=\"1\"}", 0.4), new(MetricNames.CpuUtil, 0.2)], []);
        for (var i = 0; i < 8; i++) profilers.Tell(At(i));
        // The host keeps sampling (the same readings) while the spec looks, so it never turns stale under a slow CLI.
        using var sampling = new CancellationTokenSource();
        var feeder = Task.Run(async () =>
        {
            for (var i = 8; !sampling.IsCancellationRequested; i++)
            {
                try { await Task.Delay(250, sampling.Token); } catch (TaskCanceledException) { break; }
                profilers.Tell(At(i));
            }
        });

        JsonElement node = default;
        await Cluster.WaitUntil(() =>
        {
            var run = CliRun.Of("nodes", "--json", "--contact", Contact).GetAwaiter().GetResult();
            node = run.Json.GetProperty("nodes").EnumerateArray().FirstOrDefault(n => n.GetProperty("host").GetString() == "gpu-x");
            // The view follows each node's digest: wait for a profile of the eighth sample or later, taken while the host was
            // fresh (on a loaded machine the feeder can fall behind the stale span, and the profiler then publishes its
            // series stale, which the view shows until the next sample).
            return node.ValueKind == JsonValueKind.Object &&
                   node.GetProperty("at").GetDateTimeOffset() >= T0.AddSeconds(7 * 0.25) &&
                   node.GetProperty("metrics").EnumerateArray().Any(m => m.GetProperty("metric").GetString() == "vram_util" && !m.GetProperty("stale").GetBoolean());
        });
        Assert.Equal("ORANGE", node.GetProperty("pressure").GetString()); // a steady vram_util 0.9: 0.85 <= 0.9 < 0.95
        var vram = node.GetProperty("metrics").EnumerateArray().Single(m => m.GetProperty("metric").GetString() == "vram_util");
        Assert.Equal(0.9, vram.GetProperty("raw").GetDouble(), 6);
        Assert.True(vram.TryGetProperty("ema", out _) && vram.TryGetProperty("forecast", out _) && vram.TryGetProperty("forecastStdDev", out _));
        Assert.False(vram.GetProperty("stale").GetBoolean());
        // The sensor node reads this machine through the real pipeline.
        await Cluster.WaitUntil(() => CliRun.Of("nodes", "--json", "--contact", Contact).GetAwaiter().GetResult()
            .Json.GetProperty("nodes").EnumerateArray().Any(n => n.GetProperty("host").GetString() == "gpu-c"));

        var detail = await Ok("node", "gpu-x", "--json", "--contact", Contact);

        Assert.Equal("gpu-x", detail.Json.GetProperty("host").GetString());
        Assert.Equal(["cpu_util", "vram_util"], detail.Json.GetProperty("metrics").EnumerateArray().Select(m => m.GetProperty("metric").GetString()!));
        var gpus = detail.Json.GetProperty("gpus").EnumerateArray().ToList();
        Assert.Equal(["0", "1"], gpus.Select(g => g.GetProperty("gpu").GetString()!));
        Assert.Equal(0.4, gpus[1].GetProperty("metrics")[0].GetProperty("raw").GetDouble(), 6);
        await sampling.CancelAsync();
        await feeder;
    }

    [Fact]
    public async Task Node_of_an_unknown_host_fails_naming_it()
    {
        var run = await CliRun.Of("node", "no-such-host", "--contact", Contact);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("no-such-host", run.Err);
    }

    [Fact]
    public async Task Subsystems_and_actions_show_levels_acks_and_the_journaled_decision_with_its_reason()
    {
        // Registered on node 1: its actuator and journal live there, the CLI asks node 0.
        var governor = Cluster.Nodes[1];
        var throttled = new TaskCompletionSource<Throttle>(TaskCreationOptions.RunContinuationsAsynchronously);
        var engine = governor.System.ActorOf(Props.Create(() => new AckingEngine(throttled)));
        governor.Policy.Tell(new RegisterSubsystem("engine", "gpu-y", 7, [ActionNames.ReduceBatch, ActionNames.Throttle, ActionNames.ShedLoad], engine), engine);
        var start = DateTimeOffset.UtcNow.AddMinutes(-1);
        await Cluster.WaitUntil(() => CliRun.Of("subsystems", "--json", "--contact", Contact).GetAwaiter().GetResult()
            .Json.GetProperty("subsystems").EnumerateArray().Any(s => s.GetProperty("name").GetString() == "engine"));
        for (var i = 0; i < 12; i++)
            governor.Profilers.Tell(new Sample("gpu-y", start.AddSeconds(i * 0.25), [new(MetricNames.VramUtil, i < 4 ? 0.5 : 0.97)], []));
        var throttle = await throttled.Task.WaitAsync(CliCluster.Wait);
        JsonElement engineStatus = default;
        await Cluster.WaitUntil(() =>
        {
            engineStatus = CliRun.Of("subsystems", "--json", "--contact", Contact).GetAwaiter().GetResult()
                .Json.GetProperty("subsystems").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "engine");
            return engineStatus.GetProperty("acked").GetBoolean() && engineStatus.GetProperty("lastSequence").GetInt64() >= throttle.Sequence;
        });

        Assert.Equal("gpu-y", engineStatus.GetProperty("host").GetString());
        Assert.Equal(7, engineStatus.GetProperty("priority").GetInt32());
        Assert.Equal(throttle.Level, engineStatus.GetProperty("levels").GetProperty(ActionNames.ReduceBatch).GetDouble());
        Assert.True(engineStatus.GetProperty("reachable").GetBoolean());

        // The decision is journaled right after the Throttle is sent (PersistBeforeSend off): wait for the write.
        CliRun actions = null!;
        await Cluster.WaitUntil(() =>
        {
            actions = CliRun.Of("actions", "--json", "--subsystem", "engine", "--since", "1h", "--contact", Contact).GetAwaiter().GetResult();
            return actions.ExitCode == 0 && actions.Json.GetProperty("decisions").GetArrayLength() > 0;
        });

        var decisions = actions.Json.GetProperty("decisions").EnumerateArray().ToList();
        var first = decisions.First();
        Assert.Equal("engine", first.GetProperty("subsystem").GetString());
        Assert.Equal(ActionNames.ReduceBatch, first.GetProperty("action").GetString());
        Assert.Equal(throttle.Sequence, first.GetProperty("sequence").GetInt64());
        Assert.Equal(throttle.Level, first.GetProperty("level").GetDouble());
        Assert.Equal("actuator-engine", first.GetProperty("persistenceId").GetString());
        Assert.Contains("vram_util", first.GetProperty("reason").GetProperty("rule").GetString());
        Assert.Contains("threshold=", first.GetProperty("reason").GetProperty("text").GetString());
        Assert.Empty(actions.Json.GetProperty("errors").EnumerateArray());

        var other = await Ok("actions", "--json", "--subsystem", "someone-else", "--contact", Contact);
        Assert.Empty(other.Json.GetProperty("decisions").EnumerateArray());
        var future = await Ok("actions", "--json", "--since", DateTimeOffset.UtcNow.AddHours(1).ToString("O"), "--contact", Contact);
        Assert.Empty(future.Json.GetProperty("decisions").EnumerateArray());
    }

    [Fact]
    public async Task Policies_show_the_effective_default_rules_and_settings()
    {
        var run = await Ok("policies", "--json", "--contact", Contact);

        Assert.True(run.Json.GetProperty("defaults").GetBoolean());
        Assert.Equal(5, run.Json.GetProperty("settings").GetProperty("cooldownSeconds").GetDouble());
        var rules = run.Json.GetProperty("rules").GetProperty("*").EnumerateArray().ToList();
        Assert.Equal(["reduce_batch", "throttle", "shed_load"], rules.Select(r => r.GetProperty("action").GetString()!));
        Assert.Equal("forecast", rules[0].GetProperty("signal").GetString());
        Assert.Equal(0.85, rules[0].GetProperty("threshold").GetDouble());
        Assert.Equal(0.80, rules[0].GetProperty("release").GetDouble());
    }

    [Fact]
    public async Task Sharding_reports_each_region_and_a_region_not_started_as_empty()
    {
        var run = await Ok("sharding", "--json", "--contact", Contact);

        var regions = run.Json.GetProperty("regions").EnumerateArray().ToList();
        Assert.Equal(["actuator", "profiler"], regions.Select(r => r.GetProperty("region").GetString()!).Distinct().Order());
        Assert.All(regions, r => Assert.Contains(r.GetProperty("node").GetString(), Cluster.Nodes.Select(n => n.Address)));
        Assert.All(regions, r => Assert.Equal(r.GetProperty("shards").GetArrayLength(), r.GetProperty("shardCount").GetInt32()));
    }

    [Fact]
    public async Task Watch_prints_one_json_frame_per_refresh_and_stops_after_count()
    {
        var run = await Ok("watch", "--json", "--count", "2", "--interval", "0.2", "--contact", Contact);

        var frames = run.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(2, frames.Count);
        Assert.All(frames, f => Assert.True(f.TryGetProperty("nodes", out _) && f.TryGetProperty("subsystems", out _) && f.TryGetProperty("at", out _)));
    }

    [Fact]
    public async Task Several_contacts_work_when_one_of_them_is_down()
    {
        var dead = $"127.0.0.1:{GovernorHost.FreePort()}";

        var run = await Ok("cluster", "show", "--json", "--contact", $"{dead},{Contact}");

        Assert.Equal(3, run.Json.GetProperty("members").GetArrayLength());
    }

    [Fact]
    public async Task Without_json_every_query_prints_a_table_for_people()
    {
        var cluster = await Ok("cluster", "show", "--contact", Contact);
        var policies = await Ok("policies", "--contact", Contact);
        var sharding = await Ok("sharding", "--contact", Contact);
        var nodes = await Ok("nodes", "--contact", Contact);
        var watch = await Ok("watch", "--count", "1", "--contact", Contact);

        Assert.Contains(Cluster.Nodes[2].Address, cluster.Out);
        Assert.Contains("vram_util forecast > 0.85 -> reduce_batch x0.5", policies.Out);
        Assert.Contains("profiler", sharding.Out);
        Assert.Contains("Pressure", nodes.Out);
        Assert.Contains("scarcity watch", watch.Out);
    }
}
