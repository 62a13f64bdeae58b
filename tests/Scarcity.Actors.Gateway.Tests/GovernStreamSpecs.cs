using Grpc.Core;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Gateway.V1;
using Xunit;

namespace Scarcity.Actors.Gateway.Tests;

/// <summary>A subsystem governed through the gateway, as a Python or C++ engine would be: a real node, a real Kestrel, a gRPC client.</summary>
public sealed class GovernStreamSpecs : IAsyncLifetime
{
    private GatewayNode _node = null!;

    public async Task InitializeAsync() => _node = await GatewayNode.StartAsync();

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task A_subsystem_registers_gets_its_levels_and_a_Throttle_when_its_host_crosses_a_rule_and_its_ack_reaches_the_actuator()
    {
        using var stream = _node.Open();
        await stream.SendAsync(GatewayNode.Register());

        var registered = await stream.NextAsync();
        Assert.Equal(GovernorMessage.KindOneofCase.Registered, registered.KindCase);
        Assert.Equal("engine", registered.Registered.Name);
        Assert.Equal(1.0, registered.Registered.Levels[ActionNames.ReduceBatch]);
        Assert.Equal(0, registered.Registered.LastSequence);

        _node.Sample(0.95, 0);
        var throttle = await stream.NextThrottleAsync();
        Assert.Equal(ActionNames.ReduceBatch, throttle.Action);
        Assert.Equal(0.5, throttle.Level);
        Assert.Equal(1, throttle.Sequence);
        Assert.Equal("spec-host", throttle.Host);
        Assert.Contains("vram_util", throttle.Reason);
        Assert.Equal(GatewayNode.T0, throttle.IssuedAt.ToDateTimeOffset());

        await stream.AckAsync(throttle.Sequence);
        await GatewayNode.Eventually(async () =>
        {
            var status = await _node.SubsystemAsync("engine");
            Assert.NotNull(status);
            Assert.Equal(1, status.LastAckedSequence);
            Assert.Equal(0.5, status.Levels[ActionNames.ReduceBatch]);
            Assert.True(status.Reachable);
            Assert.Equal(5, status.Priority);
        });
    }

    [Fact]
    public async Task The_stream_ending_is_the_subsystem_gone_and_a_new_stream_gets_the_current_levels()
    {
        var first = _node.Open();
        await first.SendAsync(GatewayNode.Register());
        await first.NextAsync();
        _node.Sample(0.95, 0);
        var throttle = await first.NextThrottleAsync();
        await first.AckAsync(throttle.Sequence);

        first.Dispose(); // the client goes away without a word
        await GatewayNode.Eventually(async () => Assert.False((await _node.SubsystemAsync("engine"))!.Reachable));

        using var second = _node.Open();
        await second.SendAsync(GatewayNode.Register());
        var registered = await second.NextAsync();
        Assert.Equal(GovernorMessage.KindOneofCase.Registered, registered.KindCase);
        Assert.Equal(0.5, registered.Registered.Levels[ActionNames.ReduceBatch]);
        Assert.Equal(1, registered.Registered.LastSequence);
        await GatewayNode.Eventually(async () => Assert.True((await _node.SubsystemAsync("engine"))!.Reachable));
    }

    [Fact]
    public async Task A_second_live_stream_for_the_same_name_is_rejected_and_its_stream_ends()
    {
        using var first = _node.Open();
        await first.SendAsync(GatewayNode.Register());
        await first.NextAsync();

        using var second = _node.Open();
        await second.SendAsync(GatewayNode.Register());
        var rejected = await second.NextAsync();

        Assert.Equal(GovernorMessage.KindOneofCase.Rejected, rejected.KindCase);
        Assert.Contains("already registered", rejected.Rejected.Reason);
        Assert.Equal(StatusCode.OK, (await second.EndAsync()).StatusCode);
        // The holder is untouched.
        _node.Sample(0.95, 0);
        Assert.Equal(1, (await first.NextThrottleAsync()).Sequence);
    }

    [Fact]
    public async Task Reports_are_profiled_under_the_subsystem_and_an_ack_for_an_unknown_sequence_is_harmless()
    {
        using var stream = _node.Open();
        await stream.SendAsync(GatewayNode.Register());
        await stream.NextAsync();

        await stream.AckAsync(999);
        var report = new MetricReport { At = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) };
        report.Values["latency_ms"] = 180;
        report.Values["queue_depth"] = 7;
        await stream.SendAsync(new SubsystemMessage { Report = report });

        // The host keeps sampling, as a sensor does: a host whose only utilisation series has gone stale (no sample for
        // a few intervals) is GREEN by design, so a status read long after one lone sample would see GREEN.
        var seconds = 0.0;
        await GatewayNode.Eventually(async () =>
        {
            _node.Sample(0.95, seconds += 0.25);
            var fleet = await _node.Client.GetFleetStatusAsync(new GetFleetStatusRequest());
            var host = Assert.Single(fleet.Hosts, h => h.Host == "spec-host");
            Assert.Equal(180, host.Metrics["latency_ms{subsystem=\"engine\"}"]);
            Assert.Equal(7, host.Metrics["queue_depth{subsystem=\"engine\"}"]);
        });
        Assert.True((await _node.SubsystemAsync("engine"))!.Reachable);
    }

    [Fact]
    public async Task Reports_beyond_the_rate_bound_are_dropped_and_counted_and_the_stream_goes_on()
    {
        await _node.DisposeAsync();
        _node = await GatewayNode.StartAsync(g => g.MaxReportsPerSecond = 2);
        using var stream = _node.Open();
        await stream.SendAsync(GatewayNode.Register());
        await stream.NextAsync();

        for (var i = 0; i < 20; i++)
        {
            var report = new MetricReport();
            report.Values["latency_ms"] = 100 + i;
            await stream.SendAsync(new SubsystemMessage { Report = report });
        }

        var metrics = new GatewayMetrics(Metrics.GovernorMetrics.Get(_node.Host.System).Registry);
        await GatewayNode.Eventually(() =>
        {
            Assert.InRange(metrics.ReportsDropped.WithLabels("rate").Value, 16, 18); // 2 (or, across a refill, 3 or 4) of 20 pass
            return Task.CompletedTask;
        });
        _node.Sample(0.95, 0);
        Assert.Equal(1, (await stream.NextThrottleAsync()).Sequence);
    }

    [Fact]
    public async Task A_stopping_node_ends_open_streams_with_UNAVAILABLE()
    {
        using var stream = _node.Open();
        await stream.SendAsync(GatewayNode.Register());
        await stream.NextAsync();

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var stopped = _node.Server.StopAsync();
        var status = await stream.EndAsync();
        var ended = watch.Elapsed;
        await stopped;
        Console.WriteLine($"ended after {ended.TotalMilliseconds} ms, stopped after {watch.Elapsed.TotalMilliseconds} ms");
        Assert.True(status.StatusCode == StatusCode.Unavailable, status.ToString());
    }

    [Fact]
    public async Task Fleet_status_and_decisions_answer_as_the_CLI_shows_them()
    {
        using var stream = _node.Open();
        await stream.SendAsync(GatewayNode.Register());
        await stream.NextAsync();
        _node.Sample(0.95, 0);
        var throttle = await stream.NextThrottleAsync();
        await stream.AckAsync(throttle.Sequence);

        await GatewayNode.Eventually(async () =>
        {
            var decisions = await _node.Client.GetDecisionsAsync(new GetDecisionsRequest { Subsystem = "engine" });
            var decision = Assert.Single(decisions.Decisions);
            Assert.Equal(ActionNames.ReduceBatch, decision.Action);
            Assert.Equal(1.0, decision.PreviousLevel);
            Assert.Equal(0.5, decision.Level);
            Assert.Equal(1, decision.Sequence);
            Assert.True(decision.Sent);
            Assert.Equal(throttle.Reason, decision.Reason);
        });
        Assert.Empty((await _node.Client.GetDecisionsAsync(new GetDecisionsRequest { Subsystem = "other" })).Decisions);

        // The host keeps sampling, as a sensor does: a host whose only utilisation series has gone stale (no sample for
        // a few intervals) is GREEN by design, so a status read long after one lone sample would see GREEN.
        var seconds = 0.0;
        await GatewayNode.Eventually(async () =>
        {
            _node.Sample(0.95, seconds += 0.25);
            var fleet = await _node.Client.GetFleetStatusAsync(new GetFleetStatusRequest());
            var host = Assert.Single(fleet.Hosts);
            Assert.Equal("spec-host", host.Host);
            Assert.Equal(0.95, host.Metrics["vram_util"]);
            Assert.Equal("RED", host.Pressure);
        });
    }
}
