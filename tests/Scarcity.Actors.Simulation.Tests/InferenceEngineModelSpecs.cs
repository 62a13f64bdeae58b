using Scarcity.Actors.Simulation;
using Xunit;
using static Scarcity.Actors.Simulation.InferenceEngineModel;

namespace Scarcity.Actors.Simulation.Tests;

public sealed class InferenceEngineModelSpecs
{
    private static readonly EngineLevels Free = EngineLevels.Unrestricted;

    [Fact]
    public void Context_surge_without_a_governor_has_10_OOMs_20_s_apart()
    {
        // Arrange
        var oomTimes = new List<double>();

        // Act
        var engine = Scenario.ContextSurge.Run(e =>
        {
            if (e.OomInLastStep) oomTimes.Add(e.Time - Dt);
            return Free;
        });

        // Assert
        Assert.Equal(10, engine.Scores.Ooms);
        Assert.Equal(58.25, oomTimes[0]);
        Assert.All(oomTimes.Zip(oomTimes.Skip(1)), pair => Assert.Equal(Restart, pair.Item2 - pair.Item1));
        Assert.True(engine.Scores.RequestsLost > 0);
    }

    [Theory]
    [InlineData(1.0, 64)]
    [InlineData(0.5, 32)]
    [InlineData(0.999, 63)]
    [InlineData(0.25, 16)]
    [InlineData(0.01, 1)]
    public void Batch_is_the_floor_of_B_MAX_times_the_level_and_at_least_1(double reduceBatch, int expected)
    {
        var engine = new InferenceEngineModel();

        engine.Step(0, 1.0, Free with { ReduceBatch = reduceBatch });

        Assert.Equal(expected, engine.Batch);
        Assert.Equal(expected, BatchAt(reduceBatch));
    }

    [Fact]
    public void Admission_applies_throttle_and_sheds_only_the_low_priority_share()
    {
        // Arrange: 10 requests/s, throttle 0.5, shed half of the low-priority half.
        var engine = new InferenceEngineModel();

        // Act
        engine.Step(10, 1.0, new EngineLevels(1, 0.5, 0.5));

        // Assert: admitted 10 × 0.5 × (1 − 0.5 × 0.5) × 0.25 = 0.9375, all served within the SLO.
        Assert.Equal(2.5 - 0.9375, engine.Scores.RequestsRejected, 12);
        Assert.Equal(0.9375, engine.Scores.GoodRequests + engine.Queue, 12);
        Assert.Equal(0.9375, engine.Scores.GoodRequests, 12);
    }

    [Fact]
    public void The_allocator_grabs_at_once_and_returns_memory_slowly()
    {
        // Arrange: half batch, long context, then short context.
        var engine = new InferenceEngineModel();
        var half = Free with { ReduceBatch = 0.5 };

        // Act
        engine.Step(1, 2.0, half);
        var afterGrowth = engine.VramUtil;
        var released = new List<double>();
        for (var i = 0; i < 12; i++)
        {
            engine.Step(1, 1.0, half);
            released.Add(engine.VramUtil);
        }

        // Assert
        Assert.Equal(Need(32, 2.0), afterGrowth, 12);
        Assert.Equal(afterGrowth - Release * Dt, released[0], 12);
        Assert.Equal(afterGrowth - 2 * Release * Dt, released[1], 12);
        Assert.Equal(Need(32, 1.0), released[^1], 12);
    }

    [Fact]
    public void Latency_is_queue_over_throughput_plus_prefill()
    {
        // Arrange: 100 requests/s against a throughput of about 15.8/s.
        var engine = new InferenceEngineModel();
        var mu = 64 / (TokensOut * (IterBase + IterSlot * 64 * 1.0));
        var queue = 100 * Dt - mu * Dt;

        // Act
        engine.Step(100, 1.0, Free);

        // Assert
        Assert.Equal(mu, Throughput(64, 1.0), 12);
        Assert.Equal(queue, engine.Queue, 9);
        Assert.Equal(1000 * (queue / mu + Prefill * 1.0), engine.LatencyMs, 9);
        Assert.Equal(Dt, engine.Scores.SecondsOverSlo);
        Assert.Equal(0, engine.Scores.GoodRequests);
    }

    [Fact]
    public void Idle_latency_is_the_prefill_time()
    {
        var engine = new InferenceEngineModel();

        engine.Step(0, 2.0, Free with { ReduceBatch = 0.5 });

        Assert.Equal(100, engine.LatencyMs, 9);
        Assert.Equal(0, engine.Scores.SecondsOverSlo);
    }

    [Fact]
    public void An_OOM_loses_the_batch_and_the_engine_restarts_after_20_s()
    {
        // Arrange: a queue of 100, then a context that does not fit a full batch.
        var engine = new InferenceEngineModel();
        engine.Step(400, 1.0, Free);
        var queued = engine.Queue;

        // Act
        var overSloBefore = engine.Scores.SecondsOverSlo;
        engine.Step(0, 3.0, Free);
        var oomAt = engine.Time - Dt;
        var stepsWithoutService = 1;
        double overSloDuringOutage;
        while (true)
        {
            var overSlo = engine.Scores.SecondsOverSlo;
            engine.Step(0, 1.0, Free);
            if (!engine.Down)
            {
                overSloDuringOutage = overSlo - overSloBefore;
                break;
            }

            stepsWithoutService++;
        }

        // Assert
        Assert.Equal(1, engine.Scores.Ooms);
        Assert.Equal(64, engine.Scores.RequestsLost);
        Assert.Equal(Restart / Dt, stepsWithoutService);
        Assert.Equal(oomAt + Restart, engine.Time - Dt);
        Assert.Equal(Restart, overSloDuringOutage, 9);
        Assert.True(engine.Queue < queued - 64, "the engine serves again once back");
    }

    [Fact]
    public void While_down_only_the_weights_are_reserved()
    {
        var engine = new InferenceEngineModel();

        engine.Step(1, 3.0, Free);
        engine.Step(1, 1.0, Free);

        Assert.True(engine.Down);
        Assert.Equal(Weights, engine.VramUtil);
    }

    [Fact]
    public void Traffic_burst_without_a_governor_misses_the_SLO_but_never_OOMs()
    {
        var engine = Scenario.TrafficBurst.Run();

        Assert.Equal(0, engine.Scores.Ooms);
        Assert.True(engine.Scores.SecondsOverSlo > 30, $"over SLO {engine.Scores.SecondsOverSlo} s");
        Assert.Equal(0.30, engine.CpuUtil);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void Levels_outside_the_unit_interval_are_refused(double level)
    {
        var engine = new InferenceEngineModel();

        Assert.Throws<ArgumentOutOfRangeException>(() => engine.Step(1, 1, Free with { Throttle = level }));
    }

    [Fact]
    public void New_levels_are_unrestricted()
    {
        Assert.Equal(new EngineLevels(1, 1, 1), new EngineLevels());
    }
}
