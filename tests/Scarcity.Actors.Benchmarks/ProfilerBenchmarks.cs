using BenchmarkDotNet.Attributes;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Profiling;

namespace Scarcity.Actors.Benchmarks;

/// <summary>
/// The profiler's hot path: one reading folded into a series. Target: at least 2,000,000 updates/s (under 500 ns)
/// and 0 B allocated per update.
/// </summary>
[MemoryDiagnoser]
public class ProfilerBenchmarks
{
    private const int Readings = 4096; // a power of two, so the index wraps with a mask
    private static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly string Series = MetricNames.Labelled(MetricNames.VramUtil, MetricNames.GpuLabel, "3");

    private readonly double[] _values = new double[Readings];
    private KalmanTrendFilter _filter;
    private SeriesProfile _profile = null!;
    private HostProfiler _host = null!;
    private long _tick;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        for (var i = 0; i < Readings; i++) _values[i] = 0.6 + 0.02 * (random.NextDouble() - 0.5);
        var config = new ProfilerConfig();
        _filter = new KalmanTrendFilter(config);
        _profile = new SeriesProfile(Series, config);
        _host = new HostProfiler(config);
        foreach (var name in new[] { MetricNames.CpuUtil, MetricNames.MemUtil, MetricNames.GpuUtil, MetricNames.VramUtil, Series })
            _host.Update(name, 0.5, Start);
    }

    private (double Value, DateTimeOffset At) Next()
    {
        var tick = ++_tick;
        return (_values[tick & (Readings - 1)], Start.AddTicks(tick * TimeSpan.TicksPerMillisecond * 250));
    }

    /// <summary>One Kalman update.</summary>
    [Benchmark(Baseline = true)]
    public bool KalmanUpdate()
    {
        var (value, at) = Next();
        return _filter.Update(value, at);
    }

    /// <summary>One series update: raw, EMA and Kalman.</summary>
    [Benchmark]
    public bool SeriesProfileUpdate()
    {
        var (value, at) = Next();
        return _profile.Update(value, at);
    }

    /// <summary>One reading of a known (labelled) series through the host's dictionary.</summary>
    [Benchmark]
    public bool HostProfilerUpdate()
    {
        var (value, at) = Next();
        return _host.Update(Series, value, at);
    }

    /// <summary>A series update followed by reading its forecast, as the policy does.</summary>
    [Benchmark]
    public double SeriesProfileUpdateAndForecast()
    {
        var (value, at) = Next();
        _profile.Update(value, at);
        return _profile.Forecast;
    }
}
