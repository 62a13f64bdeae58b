using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Policies;

public sealed class PolicyConfigSpecs
{
    private static PolicyConfig With(params PolicyRule[] rules) =>
        new() { Policies = new() { ["*"] = rules.ToList() } };

    [Fact]
    public void The_defaults_are_valid_and_are_the_three_rules_of_the_brief()
    {
        Assert.Empty(new PolicyConfig().Validate());
        Assert.Empty(With([.. PolicyRule.Defaults]).Validate());
        Assert.Equal([ActionNames.ReduceBatch, ActionNames.Throttle, ActionNames.ShedLoad], PolicyRule.Defaults.Select(r => r.Action));
        Assert.Equal(PolicyRule.Defaults, new PolicyConfig().RulesFor("anything"));
    }

    [Fact]
    public void An_unknown_metric_is_named_with_its_key()
    {
        var error = Assert.Single(With(new PolicyRule("vram_utl", 0.85, ActionNames.ReduceBatch, 0.5)).Validate());
        Assert.StartsWith("Scarcity:Policy:Policies:*:0:Metric 'vram_utl' is not a known metric", error);
    }

    [Fact]
    public void An_unknown_action_is_named_unless_declared_as_custom()
    {
        var rule = new PolicyRule(MetricNames.CpuUtil, 0.9, "flush_cache", 0.5);
        Assert.Contains(With(rule).Validate(), e => e.StartsWith("Scarcity:Policy:Policies:*:0:Action 'flush_cache' is not a known action"));

        var config = With(rule);
        config.CustomActions.Add("flush_cache");
        Assert.Empty(config.Validate());
    }

    [Theory]
    [InlineData(1.5)]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    public void A_utilisation_threshold_out_of_range_is_rejected(double threshold)
    {
        var errors = With(new PolicyRule(MetricNames.VramUtil, threshold, ActionNames.ReduceBatch, 0.5)).Validate().ToList();
        Assert.Contains(errors, e => e.StartsWith("Scarcity:Policy:Policies:*:0:Threshold"));
    }

    [Fact]
    public void Bad_factors_and_release_on_the_wrong_side_are_rejected()
    {
        var errors = With(
            new PolicyRule(MetricNames.VramUtil, 0.85, ActionNames.ReduceBatch, 1.5),
            new PolicyRule(MetricNames.VramUtil, 0.85, ActionNames.ReduceBatch, 0.5) { Release = 0.9 },
            new PolicyRule(MetricNames.QueueDepth, 10, ActionNames.ScaleUp, 0.5)).Validate().ToList();

        Assert.Contains(errors, e => e.StartsWith("Scarcity:Policy:Policies:*:0:Factor must be in (0, 1)"));
        Assert.Contains(errors, e => e.StartsWith("Scarcity:Policy:Policies:*:1:Release 0.9 must be on the safe side"));
        Assert.Contains(errors, e => e.StartsWith("Scarcity:Policy:Policies:*:2:Factor must be above 1 for scale_up"));
    }

    [Fact]
    public void A_subsystem_gets_the_wildcard_rules_and_its_own()
    {
        var own = new PolicyRule(MetricNames.LatencyMs, 200, ActionNames.ShedLoad, 0.5);
        var all = new PolicyRule(MetricNames.VramUtil, 0.85, ActionNames.ReduceBatch, 0.5);
        var config = new PolicyConfig { Policies = new() { ["*"] = [all], ["engine"] = [own] } };

        Assert.Equal([all, own], config.RulesFor("engine"));
        Assert.Equal([all], config.RulesFor("trainer"));
    }

    [Fact]
    public void Non_positive_cooldown_is_rejected_with_its_key()
    {
        Assert.Contains(new PolicyConfig { Cooldown = TimeSpan.Zero }.Validate(), e => e.StartsWith("Scarcity:Policy:Cooldown must be positive"));
    }

    [Fact]
    public void Every_control_setting_out_of_range_is_named_with_its_key_all_at_once()
    {
        var config = new PolicyConfig
        {
            RecoveryInterval = TimeSpan.Zero, LearnedVramLimit = 95, LatencyObjective = TimeSpan.FromMilliseconds(-1),
            LatencySetpoint = 0, IneffectiveAfterCuts = -1, LearnedInitialLevel = 50,
        };

        var errors = config.Validate().ToList();

        Assert.Equal(6, errors.Count);
        Assert.Contains("Scarcity:Policy:RecoveryInterval must be positive, was 00:00:00", errors);
        Assert.Contains("Scarcity:Policy:LearnedVramLimit must be a fraction in (0, 1], was 95 (written in percent? 95 % is 0.95)", errors);
        Assert.Contains(errors, e => e.StartsWith("Scarcity:Policy:LatencyObjective must be positive", StringComparison.Ordinal));
        Assert.Contains("Scarcity:Policy:LatencySetpoint must be a fraction in (0, 1], was 0", errors);
        Assert.Contains("Scarcity:Policy:IneffectiveAfterCuts must not be negative, was -1", errors);
        Assert.Contains("Scarcity:Policy:LearnedInitialLevel must be a fraction in (0, 1], was 50 (written in percent? 50 % is 0.5)", errors);
    }
}
