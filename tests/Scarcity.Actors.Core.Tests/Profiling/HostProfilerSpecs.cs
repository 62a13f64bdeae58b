using Xunit;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Profiling;

namespace Scarcity.Actors.Core.Tests.Profiling;

public sealed class HostProfilerSpecs
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);
    private static readonly string Gpu3 = MetricNames.Labelled(MetricNames.VramUtil, MetricNames.GpuLabel, "3");

    private static HostProfiler NewProfiler() => new(new ProfilerConfig());

    [Fact]
    public void Snapshot_holds_every_series_with_its_profile()
    {
        var profiler = NewProfiler();
        profiler.Update(MetricNames.CpuUtil, 0.4, Trace.At(0));
        profiler.Update(MetricNames.CpuUtil, 0.5, Trace.At(0.25));
        profiler.Update(Gpu3, 0.7, Trace.At(0.25));

        var snapshot = profiler.Snapshot(Trace.At(0.25), Interval);

        Assert.Equal(2, snapshot.Count);
        var cpu = snapshot[MetricNames.CpuUtil];
        Assert.Equal(0.5, cpu.Raw);
        Assert.Equal(0.43, cpu.Ema, 12);
        Assert.InRange(cpu.Estimate, 0.4, 0.5);
        Assert.Equal(Trace.At(0.25), cpu.UpdatedAt);
        Assert.False(cpu.Stale);
        Assert.Equal(0.7, snapshot[Gpu3].Forecast);
    }

    [Fact]
    public void The_snapshots_pressure_is_the_worst_fresh_utilisation_of_its_estimates()
    {
        var profiler = NewProfiler();
        profiler.Update(MetricNames.VramUtil, 0.97, Trace.At(0)); // stale by 1.0 s: does not count
        profiler.Update(MetricNames.CpuUtil, 0.72, Trace.At(1.0));
        profiler.Update(Gpu3, 0.88, Trace.At(1.0)); // a labelled utilisation counts
        profiler.Update(MetricNames.DiskReadMb, 950, Trace.At(1.0)); // not a utilisation

        var snapshot = profiler.Snapshot(Trace.At(1.0), Interval, out var pressure);

        Assert.Equal(PressureLevel.Orange, pressure);
        Assert.Equal(PressureLevels.Of(snapshot), pressure);
        Assert.True(snapshot[MetricNames.VramUtil].Stale);
        profiler.Snapshot(Trace.At(2.0), Interval, out var allStale);
        Assert.Equal(PressureLevel.Green, allStale);
    }

    [Fact]
    public void A_series_without_readings_for_three_intervals_is_stale_not_zero()
    {
        var profiler = NewProfiler();
        profiler.Update(MetricNames.VramUtil, 0.6, Trace.At(0));

        var atLimit = profiler.Snapshot(Trace.At(0.75), Interval)[MetricNames.VramUtil];
        var beyond = profiler.Snapshot(Trace.At(0.76), Interval)[MetricNames.VramUtil];

        Assert.False(atLimit.Stale);
        Assert.True(beyond.Stale);
        Assert.Equal(0.6, beyond.Estimate);
    }

    [Fact]
    public void TryGet_answers_for_known_series_only()
    {
        var profiler = NewProfiler();
        profiler.Update(MetricNames.MemUtil, 0.3, Trace.At(0));

        Assert.True(profiler.TryGet(MetricNames.MemUtil, Trace.At(0), Interval, out var known));
        Assert.Equal(0.3, known.Estimate);
        Assert.False(profiler.TryGet(MetricNames.SwapUtil, Trace.At(0), Interval, out var unknown));
        Assert.Null(unknown);
    }

    [Fact]
    public void Non_finite_readings_are_refused_and_create_no_series()
    {
        var profiler = NewProfiler();

        Assert.False(profiler.Update(MetricNames.GpuUtil, double.NaN, Trace.At(0)));
        Assert.Equal(0, profiler.Count);
    }

    [Theory]
    [InlineData(0.0, PressureLevel.Green)]
    [InlineData(0.6999, PressureLevel.Green)]
    [InlineData(0.70, PressureLevel.Yellow)]
    [InlineData(0.8499, PressureLevel.Yellow)]
    [InlineData(0.85, PressureLevel.Orange)]
    [InlineData(0.9499, PressureLevel.Orange)]
    [InlineData(0.95, PressureLevel.Red)]
    [InlineData(1.0, PressureLevel.Red)]
    [InlineData(double.NaN, PressureLevel.Green)]
    public void Pressure_levels_follow_the_documented_bands(double utilisation, PressureLevel expected) =>
        Assert.Equal(expected, PressureLevels.From(utilisation));

    [Fact]
    public void Pressure_comes_from_the_worst_fresh_utilisation_labelled_series_included()
    {
        var profiler = NewProfiler();
        profiler.Update(MetricNames.CpuUtil, 0.2, Trace.At(0));
        profiler.Update(Gpu3, 0.9, Trace.At(0));
        profiler.Update(MetricNames.LatencyMs, 900, Trace.At(0));

        var pressure = profiler.Pressure(Trace.At(0), Interval);

        Assert.Equal(PressureLevel.Orange, pressure);
        Assert.Equal(pressure, PressureLevels.Of(profiler.Snapshot(Trace.At(0), Interval)));
    }

    [Fact]
    public void Pressure_ignores_stale_series()
    {
        var profiler = NewProfiler();
        profiler.Update(MetricNames.VramUtil, 0.99, Trace.At(0));
        profiler.Update(MetricNames.CpuUtil, 0.75, Trace.At(0));
        profiler.Update(MetricNames.CpuUtil, 0.75, Trace.At(5));

        var pressure = profiler.Pressure(Trace.At(5), Interval);

        Assert.Equal(PressureLevel.Yellow, pressure);
        Assert.Equal(pressure, PressureLevels.Of(profiler.Snapshot(Trace.At(5), Interval)));
    }

    [Fact]
    public void Pressure_rises_on_the_forecast_before_the_level_does()
    {
        // Arrange: a ramp of 0.05/s still at 0.65, whose forecast is past 0.85.
        var profiler = NewProfiler();
        var t = 0.0;
        for (var value = 0.40; value <= 0.65; value += 0.0125, t += 0.25) profiler.Update(MetricNames.VramUtil, value, Trace.At(t));
        var now = Trace.At(t - 0.25);

        // Act
        var pressure = profiler.Pressure(now, Interval);

        // Assert
        Assert.True(profiler.TryGet(MetricNames.VramUtil, now, Interval, out var vram));
        Assert.InRange(vram.Estimate, 0, 0.70);
        Assert.True(pressure >= PressureLevel.Orange, $"pressure {pressure}, forecast {vram.Forecast}");
    }

    [Fact]
    public void Export_and_import_carry_every_series_to_another_profiler()
    {
        // Arrange
        var original = NewProfiler();
        for (var i = 0; i < 20; i++)
        {
            original.Update(MetricNames.VramUtil, 0.5 + 0.01 * i, Trace.At(i * 0.25));
            original.Update(MetricNames.CpuUtil, 0.3, Trace.At(i * 0.25));
        }

        // Act
        var restored = NewProfiler();
        restored.Update("stale_leftover", 1, Trace.At(0));
        restored.Import(original.Export());
        original.Update(MetricNames.VramUtil, 0.7, Trace.At(5));
        restored.Update(MetricNames.VramUtil, 0.7, Trace.At(5));

        // Assert
        Assert.Equal(original.Snapshot(Trace.At(5), Interval), restored.Snapshot(Trace.At(5), Interval));
        Assert.Equal(original.Export(), restored.Export());
        Assert.False(restored.TryGetProfile("stale_leftover", out _));
    }

    [Fact]
    public void Updating_a_known_series_allocates_nothing()
    {
        // Arrange
        var profiler = NewProfiler();
        var series = Gpu3;
        for (var i = 0; i < 100; i++) profiler.Update(series, 0.5, Trace.At(i * 0.25));

        // Act
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 100; i < 10_000; i++)
        {
            profiler.Update(series, 0.5 + (i % 7) * 0.001, Trace.At(i * 0.25));
            _ = profiler.Pressure(Trace.At(i * 0.25), Interval);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // Assert
        Assert.Equal(0, allocated);
    }
}
