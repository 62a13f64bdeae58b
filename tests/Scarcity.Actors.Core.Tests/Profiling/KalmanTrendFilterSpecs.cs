using Xunit;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Profiling;

namespace Scarcity.Actors.Core.Tests.Profiling;

public sealed class KalmanTrendFilterSpecs
{
    private static readonly TimeSpan Horizon = TimeSpan.FromSeconds(5);

    private static KalmanTrendFilter NewFilter() => new(new ProfilerConfig());

    [Fact]
    public void The_first_reading_seeds_the_level_with_no_trend_and_no_alarm()
    {
        var filter = NewFilter();

        filter.Update(0.97, Trace.At(0));

        Assert.Equal(0.97, filter.Level);
        Assert.Equal(0.0, filter.Trend);
        Assert.False(filter.IsTrendSignificant);
        Assert.Equal(0.97, filter.Forecast(Horizon));
    }

    [Fact]
    public void An_empty_filter_knows_nothing()
    {
        var filter = NewFilter();

        Assert.Equal(0, filter.Count);
        Assert.True(double.IsNaN(filter.Level));
        Assert.True(double.IsNaN(filter.Forecast(Horizon)));
    }

    [Fact]
    public void On_a_noiseless_linear_ramp_the_trend_and_forecast_converge_to_the_truth()
    {
        // Arrange: 0.2 + 0.01/s, sampled at 4 Hz for 50 s.
        var filter = NewFilter();
        const double slope = 0.01;
        double t = 0;

        // Act
        for (var i = 0; i < 200; i++)
        {
            t = i * 0.25;
            filter.Update(0.2 + slope * t, Trace.At(t));
        }

        // Assert
        var truthIn5s = 0.2 + slope * (t + 5);
        Assert.InRange(filter.Trend, slope * 0.99, slope * 1.01);
        Assert.True(filter.IsTrendSignificant);
        Assert.InRange(filter.Forecast(Horizon), truthIn5s * 0.99, truthIn5s * 1.01);
    }

    [Fact]
    public void Sampling_jitter_does_not_bias_the_trend()
    {
        // Arrange: same ramp, readings 0.1 s to 0.5 s apart.
        var filter = NewFilter();
        var random = new Random(7);
        double t = 0;

        // Act
        for (var i = 0; i < 200; i++)
        {
            t += 0.1 + 0.4 * random.NextDouble();
            filter.Update(0.2 + 0.01 * t, Trace.At(t));
        }

        // Assert
        Assert.InRange(filter.Trend, 0.0099, 0.0101);
        Assert.InRange(filter.Level, 0.2 + 0.01 * t - 0.002, 0.2 + 0.01 * t + 0.002);
    }

    [Fact]
    public void A_step_is_tracked_within_two_percent_within_a_second()
    {
        // Arrange: 0.5 for 5 s, then 0.95.
        var filter = NewFilter();
        for (var i = 0; i < 20; i++) filter.Update(0.5, Trace.At(i * 0.25));

        // Act
        var levels = new List<double>();
        for (var i = 20; i < 60; i++)
        {
            filter.Update(0.95, Trace.At(i * 0.25));
            levels.Add(filter.Level);
        }

        // Assert: within 2% from the 4th reading after the step on, and it stays there.
        Assert.All(levels.Skip(3), level => Assert.InRange(level, 0.95 * 0.98, 0.95 * 1.02));
    }

    [Fact]
    public void A_series_in_milliseconds_is_followed_like_a_utilisation()
    {
        // Arrange: latency around 200 ms with 10 ms noise, then a step to 600 ms.
        var filter = NewFilter();
        var random = new Random(9);
        for (var i = 0; i < 120; i++) filter.Update(200 + 10 * Gaussian(random), Trace.At(i * 0.25));

        // Act
        var levels = new List<double>();
        for (var i = 120; i < 160; i++)
        {
            filter.Update(600 + 10 * Gaussian(random), Trace.At(i * 0.25));
            levels.Add(filter.Level);
        }

        // Assert
        Assert.InRange(filter.MeasurementNoise, 100 * 0.5, 100 * 2.0);
        Assert.All(levels.Skip(4), level => Assert.InRange(level, 600 * 0.97, 600 * 1.03));
    }

    [Fact]
    public void On_a_flat_series_the_trend_stays_out_of_the_forecast()
    {
        var filter = NewFilter();

        for (var i = 0; i < 100; i++) filter.Update(0.6, Trace.At(i * 0.25));

        Assert.False(filter.IsTrendSignificant);
        Assert.Equal(filter.Level, filter.Forecast(Horizon));
        Assert.Equal(0.6, filter.Level, 9);
    }

    [Fact]
    public void The_noise_estimate_learns_the_measurement_noise()
    {
        // Arrange: 0.5 plus Gaussian noise of standard deviation 0.05 (variance 0.0025), seeded at 0.0004.
        var filter = NewFilter();
        var random = new Random(11);

        // Act
        for (var i = 0; i < 2000; i++) filter.Update(0.5 + 0.05 * Gaussian(random), Trace.At(i * 0.25));

        // Assert
        Assert.InRange(filter.MeasurementNoise, 0.0025 * 0.6, 0.0025 * 1.4);
    }

    [Fact]
    public void The_forecast_band_widens_with_the_horizon()
    {
        var filter = NewFilter();
        var random = new Random(3);
        for (var i = 0; i < 40; i++) filter.Update(0.5 + 0.02 * Gaussian(random), Trace.At(i * 0.25));

        var near = filter.ForecastStdDev(TimeSpan.FromSeconds(1));
        var far = filter.ForecastStdDev(TimeSpan.FromSeconds(10));

        Assert.True(near > 0);
        Assert.True(far > near);
    }

    [Fact]
    public void Non_finite_and_out_of_order_readings_are_refused_and_change_nothing()
    {
        var filter = NewFilter();
        filter.Update(0.5, Trace.At(1));
        filter.Update(0.6, Trace.At(2));
        var before = filter.Export();

        Assert.False(filter.Update(double.NaN, Trace.At(3)));
        Assert.False(filter.Update(double.PositiveInfinity, Trace.At(3)));
        Assert.False(filter.Update(0.7, Trace.At(1.5)));
        Assert.Equal(before, filter.Export());
    }

    [Fact]
    public void An_exported_state_restored_elsewhere_continues_exactly()
    {
        // Arrange: one filter runs a noisy ramp throughout; another takes over half way from a snapshot.
        var random = new Random(5);
        var readings = Enumerable.Range(0, 80).Select(i => (T: i * 0.25, V: 0.4 + 0.03 * i * 0.25 + 0.02 * Gaussian(random))).ToList();
        var original = NewFilter();
        foreach (var (t, v) in readings.Take(40)) original.Update(v, Trace.At(t));

        // Act
        var restored = NewFilter();
        restored.Import(original.Export());
        foreach (var (t, v) in readings.Skip(40))
        {
            original.Update(v, Trace.At(t));
            restored.Update(v, Trace.At(t));
        }

        // Assert
        Assert.Equal(original.Export(), restored.Export());
        Assert.Equal(original.Forecast(Horizon), restored.Forecast(Horizon));
    }

    [Fact]
    public void A_corrupt_state_is_refused()
    {
        var filter = NewFilter();
        var corrupt = new KalmanState(0.5, 0, -1, 0, 1e-4, 4e-4, Trace.At(0), 3);

        Assert.Throws<ArgumentException>(() => filter.Import(corrupt));
    }

    [Fact]
    public void It_matches_the_MathNet_matrix_reference_to_1e_9()
    {
        // Arrange: a random walk with noise, jittered timestamps, repeated instants and occasional steps.
        var config = new ProfilerConfig();
        var filter = new KalmanTrendFilter(config);
        var reference = new KalmanReference(config.KalmanQ, config.KalmanR);
        var random = new Random(42);
        double t = 0, truth = 0.5;

        for (var i = 0; i < 5000; i++)
        {
            // Act
            t += i % 97 == 0 ? 0 : 0.05 + 0.5 * random.NextDouble();
            truth += 0.01 * Gaussian(random) + (i % 500 == 250 ? 0.3 * (random.NextDouble() - 0.5) : 0);
            var z = truth + 0.02 * Gaussian(random);
            Assert.Equal(reference.Update(z, Trace.At(t)), filter.Update(z, Trace.At(t)));

            // Assert
            var state = filter.Export();
            var x = reference.State;
            var p = reference.Covariance;
            Assert.Equal(x[0], state.Level, 1e-9);
            Assert.Equal(x[1], state.Trend, 1e-9);
            Assert.Equal(p[0, 0], state.P00, 1e-9);
            Assert.Equal(p[0, 1], state.P01, 1e-9);
            Assert.Equal(p[1, 1], state.P11, 1e-9);
            Assert.Equal(reference.MeasurementNoise, state.R, 1e-9);
        }
    }

    [Fact]
    public void An_update_allocates_nothing()
    {
        // Arrange
        var filter = NewFilter();
        var random = new Random(1);
        var values = Enumerable.Range(0, 10_000).Select(_ => 0.5 + 0.02 * Gaussian(random)).ToArray();
        for (var i = 0; i < 100; i++) filter.Update(values[i], Trace.At(i * 0.25));

        // Act
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 100; i < values.Length; i++)
        {
            filter.Update(values[i], Trace.At(i * 0.25));
            _ = filter.Forecast(Horizon);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // Assert
        Assert.Equal(0, allocated);
    }

    internal static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
