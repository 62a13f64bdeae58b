using Scarcity.Actors.Contracts;
using Scarcity.Actors.Profiling;
using Scarcity.Actors.Simulation;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.Simulation.Tests;

public sealed class ScenarioSpecs(ITestOutputHelper output)
{
    [Theory]
    [InlineData(0, 10, 1.0)]
    [InlineData(29.75, 10, 1.0)]
    [InlineData(40, 10, 1.2)]
    [InlineData(90, 10, 2.2)]
    [InlineData(200, 10, 2.2)]
    [InlineData(240, 10, 1.0)]
    public void Context_surge_follows_its_definition(double t, double arrivals, double contextK)
    {
        var input = Scenario.ContextSurge.At(t);

        Assert.Equal(arrivals, input.Arrivals);
        Assert.Equal(contextK, input.ContextK, 9);
        Assert.Equal(360 * 4, Scenario.ContextSurge.Steps);
    }

    [Theory]
    [InlineData(0, 8)]
    [InlineData(60, 25)]
    [InlineData(149.75, 25)]
    [InlineData(150, 8)]
    public void Traffic_burst_follows_its_definition(double t, double arrivals)
    {
        var input = Scenario.TrafficBurst.At(t);

        Assert.Equal(new ScenarioInput(arrivals, 1.2), input);
        Assert.Equal(TimeSpan.FromSeconds(300), Scenario.TrafficBurst.Duration);
    }

    [Fact]
    public void Demo_runs_out_of_memory_within_about_20_s_when_ungoverned()
    {
        double? firstOom = null;

        var engine = Scenario.Demo.Run(e =>
        {
            if (e.OomInLastStep) firstOom ??= e.Time - InferenceEngineModel.Dt;
            return EngineLevels.Unrestricted;
        });

        output.WriteLine($"first OOM at {firstOom} s; {engine.Scores}");
        Assert.True(engine.Scores.Ooms >= 1);
        Assert.InRange(firstOom ?? double.NaN, 15, 25);
    }

    [Fact]
    public void Demo_governed_on_the_vram_forecast_reduces_the_batch_avoids_the_OOM_and_recovers()
    {
        // Arrange: the profiler watches vram_util; reduce_batch 0.5 while the forecast is past 0.85, restored
        // once the forecast is back under 0.70 (a minimal stand-in for the policy stage).
        var profiler = new HostProfiler(new ProfilerConfig());
        var start = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var levels = EngineLevels.Unrestricted;
        double? reducedAt = null, restoredAt = null;

        // Act
        var engine = Scenario.Demo.Run(e =>
        {
            if (e.Steps == 0) return levels;
            var now = start + TimeSpan.FromSeconds(e.Time);
            profiler.Update(MetricNames.VramUtil, e.VramUtil, now);
            Assert.True(profiler.TryGet(MetricNames.VramUtil, now, TimeSpan.FromSeconds(InferenceEngineModel.Dt), out var vram));
            if (levels.ReduceBatch == 1 && vram.Forecast >= 0.85)
            {
                levels = levels with { ReduceBatch = 0.5 };
                reducedAt ??= e.Time;
            }
            else if (levels.ReduceBatch < 1 && e.Time > 40 && vram.Forecast < 0.70)
            {
                levels = EngineLevels.Unrestricted;
                restoredAt ??= e.Time;
            }

            return levels;
        });

        // Assert
        output.WriteLine($"reduce_batch 0.5 at {reducedAt} s, restored at {restoredAt} s; {engine.Scores}");
        Assert.Equal(0, engine.Scores.Ooms);
        Assert.InRange(reducedAt ?? double.NaN, 5, 20);
        Assert.NotNull(restoredAt);
        Assert.Equal(InferenceEngineModel.BMax, engine.Batch);
    }
}
