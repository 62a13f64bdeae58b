using BenchmarkDotNet.Attributes;
using Scarcity.Actors.Sensing;

namespace Scarcity.Actors.Benchmarks;

/// <summary>One sample of every host metric from the real /proc and cgroups. Budget: 150 us median, 1 KB allocated.</summary>
[MemoryDiagnoser]
[MedianColumn]
public class LinuxSensorBenchmarks
{
    private LinuxSensorSource _source = null!;
    private MetricBuffer _buffer = null!;
    private DateTimeOffset _now;

    [GlobalSetup]
    public void Setup()
    {
        _source = new LinuxSensorSource();
        _buffer = new MetricBuffer();
        _now = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
        _source.Sample(_buffer, _now); // seeds the rates
    }

    [Benchmark]
    public int Sample()
    {
        _buffer.Clear();
        _now += TimeSpan.FromMilliseconds(250); // SensorConfig.IntervalMs: limits are re-read every 40th sample
        _source.Sample(_buffer, _now);
        return _buffer.Count;
    }

    [GlobalCleanup]
    public void Cleanup() => _source.Dispose();
}
