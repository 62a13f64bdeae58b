using Xunit;
using Scarcity.Actors.Profiling;

namespace Scarcity.Actors.Core.Tests.Profiling;

public sealed class EmaSpecs
{
    [Fact]
    public void The_first_reading_seeds_the_average()
    {
        var ema = new Ema(0.3);

        ema.Update(0.8);

        Assert.True(ema.IsSeeded);
        Assert.Equal(0.8, ema.Value);
    }

    [Fact]
    public void Later_readings_weigh_alpha()
    {
        var ema = new Ema(0.3);
        ema.Update(1.0);

        ema.Update(2.0);

        Assert.Equal(1.3, ema.Value, 12);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.01)]
    [InlineData(double.NaN)]
    public void Alpha_outside_the_unit_interval_is_refused(double alpha) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Ema(alpha));
}
