using System.Collections.Immutable;
using System.Text.Json;
using Akka.Actor;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies.Budgets;
using Xunit;

namespace Scarcity.Actors.Cli.Tests;

/// <summary>
/// <c>scarcity budgets</c> against an in-process cluster with a rack budget: the sensor node's host carries
/// <c>rack=r12</c> from its sensor configuration, and its GPU power (this machine has none) is fed to its profiler.
/// </summary>
public sealed class CliBudgetsSpecs : IAsyncLifetime
{
    private CliCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await CliCluster.StartAsync(config =>
    {
        config.Sensor.Labels["rack"] = "r12";
        config.Sensor.LabelsInterval = TimeSpan.FromSeconds(1);
        config.Policy.Budgets.Add(new FleetBudget
        {
            Name = "rack-r12-power", Metric = MetricNames.GpuPowerW, Signal = Policies.SignalKind.Raw, Limit = 30000,
            Selector = new() { ["rack"] = "r12" }, Action = ActionNames.ShedLoad, Hold = TimeSpan.FromSeconds(1),
        });
    });

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private async Task<JsonElement> Budget(Func<JsonElement, bool> accept)
    {
        var deadline = DateTime.UtcNow + CliCluster.Wait;
        while (true)
        {
            var run = await CliRun.Of("budgets", "--json", "--contact", _cluster.Nodes[1].Address);
            Assert.True(run.ExitCode == 0, run.ToString());
            var budget = run.Json.GetProperty("budgets")[0];
            if (accept(budget)) return run.Json;
            if (DateTime.UtcNow > deadline) throw new TimeoutException("budgets never showed what was awaited; last: " + run.Out);
            await Task.Delay(500);
        }
    }

    [Fact]
    public async Task Budgets_shows_a_labelled_host_without_power_as_left_out_then_its_value_its_state_and_its_cap()
    {
        // The sensor node (gpu-c) reads this machine: labelled rack=r12, but no gpu_power_w: named, never 0 W.
        var noData = await Budget(b => b.GetProperty("excludedHosts").EnumerateArray().Any(h => h.GetString() == "gpu-c (no gpu_power_w)"));
        var budget = noData.GetProperty("budgets")[0];
        Assert.Equal("no-data", budget.GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, budget.GetProperty("value").ValueKind);
        Assert.Equal((30000.0, "W", "rack=r12", "sum"), (budget.GetProperty("limit").GetDouble(), budget.GetProperty("unit").GetString(),
            budget.GetProperty("selector").GetString(), budget.GetProperty("aggregate").GetString()));
        Assert.StartsWith("akka.tcp://scarcity@127.0.0.1:", noData.GetProperty("owner").GetString());

        // A subsystem on gpu-c, and gpu-c drawing 40 kW: over, and the subsystem is capped. It declares shed_load only,
        // which no default rule moves without latency reports (gpu-c is this busy machine: throttle would move by its CPU).
        var governor = _cluster.Nodes[0];
        var first = new TaskCompletionSource<Throttle>(TaskCreationOptions.RunContinuationsAsynchronously);
        var engine = governor.System.ActorOf(Props.Create(() => new AckingEngine(first)), "budget-engine");
        governor.Policy.Tell(new RegisterSubsystem("budget-engine", "gpu-c", 1, [ActionNames.ShedLoad], engine), engine);
        using var feeding = new CancellationTokenSource();
        var feeder = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
            while (await timer.WaitForNextTickAsync(feeding.Token))
                governor.Profilers.Tell(new Sample("gpu-c", DateTimeOffset.UtcNow, [new MetricValue(MetricNames.GpuPowerW, 40000)], []));
        });
        try
        {
            var throttle = await first.Task.WaitAsync(CliCluster.Wait);
            Assert.Equal(0.5, throttle.Level);
            Assert.Contains("budget rack-r12-power", throttle.Reason.Rule);

            var over = (await Budget(b => b.GetProperty("caps").GetArrayLength() > 0)).GetProperty("budgets")[0];
            Assert.Equal("over", over.GetProperty("state").GetString());
            Assert.Equal(40000, over.GetProperty("value").GetDouble(), 6);
            Assert.Equal(["gpu-c"], over.GetProperty("hosts").EnumerateArray().Select(h => h.GetString()));
            var cap = over.GetProperty("caps")[0];
            Assert.Equal(("budget-engine", "gpu-c", 1, "shed_load"), (cap.GetProperty("subsystem").GetString(), cap.GetProperty("host").GetString(),
                cap.GetProperty("priority").GetInt32(), cap.GetProperty("action").GetString()));

            var table = await CliRun.Of("budgets", "--contact", _cluster.Nodes[2].Address);
            Assert.True(table.ExitCode == 0, table.ToString());
            Assert.Contains("rack-r12-power", table.Out);
            Assert.Contains("budget-engine@gpu-c (priority 1) shed_load=", table.Out);
        }
        finally
        {
            feeding.Cancel();
            await feeder.ContinueWith(_ => { });
        }
    }
}
