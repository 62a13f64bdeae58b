using Microsoft.Extensions.Configuration;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Core.Tests.FieldCases;
using Scarcity.Actors.Policies;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Policies;

/// <summary>
/// Field case <c>percent-threshold</c>: a user writes thresholds in percent on fraction metrics. Every fraction
/// (<c>*_util</c>, <c>psi_*</c>, the GPU fractions), labelled or not, is range-checked at start-up.
/// </summary>
public sealed class PercentThresholdSpecs
{
    private static PolicyConfig With(params PolicyRule[] rules) => new() { Policies = new() { ["*"] = [.. rules] } };

    [Fact]
    public void Percent_threshold_start_up_fails_naming_each_of_the_three_rules()
    {
        var config = new ConfigurationBuilder().AddJsonFile(FieldCase.File("percent-threshold", "policy-percent.json")).Build();

        var error = Assert.Throws<DRGConfigException>(() => DRGConfig.Load(config));

        Assert.Equal(3, error.Errors.Count);
        Assert.StartsWith("Scarcity:Policy:Policies:*:0:Threshold 95 is out of range for 'mem_util'", error.Errors[0], StringComparison.Ordinal);
        Assert.StartsWith("Scarcity:Policy:Policies:*:1:Threshold 85 is out of range for 'gpu_mem_util'", error.Errors[1], StringComparison.Ordinal);
        Assert.StartsWith("Scarcity:Policy:Policies:*:2:Threshold 95 is out of range for 'gpu_power_util'", error.Errors[2], StringComparison.Ordinal);
        Assert.All(error.Errors, e => Assert.Contains("written in percent?", e, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("cpu_util")]
    [InlineData("mem_util")]
    [InlineData("swap_util")]
    [InlineData("gpu_util")]
    [InlineData("gpu_mem_util")]
    [InlineData("vram_util")]
    [InlineData("gpu_power_util")]
    [InlineData("psi_cpu")]
    [InlineData("psi_mem")]
    [InlineData("psi_io")]
    [InlineData("vram_util{gpu=\"0\"}")]
    [InlineData("gpu_power_util{gpu=\"3\"}")]
    [InlineData("cpu_util{subsystem=\"engine\"}")]
    public void Percent_threshold_every_fraction_labelled_or_not_is_range_checked(string metric)
    {
        var errors = With(
            new PolicyRule(metric, 90, ActionNames.Throttle, 0.7),
            new PolicyRule(metric, 0.9, ActionNames.Throttle, 0.7) { Release = 80 },
            new PolicyRule(metric, 0, ActionNames.Throttle, 0.7),
            new PolicyRule(metric, 0.9, ActionNames.Throttle, 0.7) { Release = 0.8 }).Validate().ToList();

        Assert.Contains(errors, e => e.StartsWith($"Scarcity:Policy:Policies:*:0:Threshold 90 is out of range for '{metric}', a fraction in (0, 1]", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith($"Scarcity:Policy:Policies:*:1:Release 80 is out of range for '{metric}'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith($"Scarcity:Policy:Policies:*:2:Threshold 0 is out of range for '{metric}'", StringComparison.Ordinal));
        Assert.DoesNotContain(errors, e => e.StartsWith("Scarcity:Policy:Policies:*:3:", StringComparison.Ordinal));
    }

    [Fact]
    public void Percent_threshold_every_fraction_the_governor_knows_is_checked()
    {
        // A new fraction metric must join MetricNames.Fractions, or its percent thresholds pass unnoticed.
        var fractionLike = MetricNames.Known.Where(m => m.EndsWith("_util", StringComparison.Ordinal) || m.StartsWith("psi_", StringComparison.Ordinal));
        Assert.All(fractionLike, m => Assert.True(MetricNames.IsFraction(m), $"{m} is not range-checked"));
        Assert.All(MetricNames.Utilisations, m => Assert.True(MetricNames.IsFraction(m)));
    }

    [Theory]
    [InlineData("latency_ms", 500)]
    [InlineData("gpu_temp_c", 85)]
    [InlineData("disk_read_mb", 400)]
    [InlineData("mem_available_gb", 2)]
    public void Percent_threshold_metrics_that_are_not_fractions_keep_their_own_units(string metric, double threshold)
    {
        var below = metric == "mem_available_gb" ? RuleDirection.Below : RuleDirection.Above;
        Assert.Empty(With(new PolicyRule(metric, threshold, ActionNames.Throttle, 0.7, below)).Validate());
    }
}
