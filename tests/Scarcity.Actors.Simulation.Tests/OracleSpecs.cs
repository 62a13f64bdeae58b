using Scarcity.Actors.Simulation;
using Xunit;
using static Scarcity.Actors.Simulation.InferenceEngineModel;

namespace Scarcity.Actors.Simulation.Tests;

/// <summary>The perfect-foresight controller, exactly as shared/ENGINE-MODEL.md defines it.</summary>
public sealed class OracleSpecs
{
    [Theory]
    [InlineData(0.0, 64)]
    [InlineData(1.0, 64)]
    [InlineData(2.2, 45)]
    [InlineData(3.0, 33)]
    [InlineData(200.0, 1)]
    public void Its_batch_is_the_largest_that_fits_the_card(double contextK, int batch)
    {
        Assert.Equal(batch, Oracle.Batch(contextK));
        Assert.Equal(batch, BatchAt(Oracle.Levels(new ScenarioInput(10, contextK)).ReduceBatch));
    }

    [Fact]
    public void It_admits_95_percent_of_capacity_and_never_sheds()
    {
        var levels = Oracle.Levels(new ScenarioInput(100, 2.2));

        Assert.Equal(0.95 * Throughput(45, 2.2) / 100, levels.Throttle, 12);
        Assert.Equal(1, levels.ShedLoad);
        Assert.Equal(45.5 / 64, levels.ReduceBatch, 12);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void With_capacity_to_spare_it_admits_everything(double arrivals)
    {
        Assert.Equal(1, Oracle.Levels(new ScenarioInput(arrivals, 1.2)).Throttle);
    }
}
