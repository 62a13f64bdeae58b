using Microsoft.Extensions.Configuration;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies.Budgets;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Policies.Budgets;

/// <summary><c>Scarcity:Policy:Budgets</c> and <c>Scarcity:Sensor:Labels</c> as an operator writes them.</summary>
public sealed class BudgetConfigurationSpecs
{
    private static IConfiguration Json(string json) =>
        new ConfigurationBuilder().AddJsonStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json))).Build();

    [Fact]
    public void A_rack_power_budget_and_host_labels_bind_with_their_defaults()
    {
        var config = DRGConfig.Load(Json("""
            { "Scarcity": {
                "Sensor": { "Labels": { "rack": "r12", "row": "b" } },
                "Policy": { "Budgets": [ { "Name": "rack-r12-power", "Metric": "gpu_power_w", "Aggregate": "sum",
                                           "Selector": { "rack": "r12" }, "Limit": 30000, "Action": "throttle" } ] } } }
            """));

        var budget = Assert.Single(config.Policy.Budgets);
        Assert.Equal((BudgetAggregate.Sum, 30000.0, "W", "rack=r12"), (budget.Aggregate, budget.Limit, budget.EffectiveUnit, budget.SelectorText));
        Assert.Equal((0.5, 0.1, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30)), (budget.Step, budget.MinLevel, budget.Hold, budget.RecoveryHold));
        Assert.Equal("r12", config.Sensor.Labels["rack"]);
        Assert.Equal(TimeSpan.FromSeconds(10), config.Sensor.LabelsInterval);
    }

    [Fact]
    public void Bad_budgets_and_labels_stop_start_up_with_every_key_named()
    {
        var e = Assert.Throws<DRGConfigException>(() => DRGConfig.Load(Json("""
            { "Scarcity": {
                "Sensor": { "Labels": { "Rack": "r12" }, "LabelsInterval": "00:00:00" },
                "Policy": { "Budgets": [ { "Name": "p", "Metric": "gpu_power_w", "Limit": 0, "Action": "throttle", "Hold": "00:00:00" },
                                         { "Name": "q", "Metric": "gpu_power_w", "Limit": 1, "Aggregat": "sum" } ] } } }
            """)));

        Assert.Contains(e.Errors, m => m.StartsWith("Scarcity:Sensor:Labels:Rack", StringComparison.Ordinal));
        Assert.Contains(e.Errors, m => m.StartsWith("Scarcity:Sensor:LabelsInterval must be positive", StringComparison.Ordinal));
        Assert.Contains(e.Errors, m => m.StartsWith("Scarcity:Policy:Budgets:0:Limit must be", StringComparison.Ordinal));
        Assert.Contains(e.Errors, m => m.StartsWith("Scarcity:Policy:Budgets:0:Hold must be positive", StringComparison.Ordinal));
        Assert.Contains(e.Errors, m => m.Contains("Scarcity:Policy:Budgets:1:Aggregat", StringComparison.Ordinal));
    }

    [Fact]
    public void Gpu_power_in_watts_is_a_known_metric_and_not_a_fraction()
    {
        Assert.Contains(MetricNames.GpuPowerW, (IReadOnlySet<string>)MetricNames.Known);
        Assert.False(MetricNames.IsFraction(MetricNames.GpuPowerW));
    }
}
