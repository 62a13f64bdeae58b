using BenchmarkDotNet.Attributes;
using Scarcity.Actors.Sensing;
using Scarcity.Actors.Sensing.Nvml;
using Scarcity.Actors.Testing;

namespace Scarcity.Actors.Benchmarks;

/// <summary>
/// One sample of the NVML source against the fake libnvidia-ml (tests/native/fake-nvml): the cost of the managed side
/// and the P/Invoke transitions, not of a real driver's ioctls. Budget: under 1 ms and 0 B per sample for 8 GPUs.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 3, iterationCount: 10)]
public class NvmlSensorBenchmarks
{
    private static readonly DateTimeOffset Now = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private FakeNvmlLibrary _fake = null!;
    private NvmlSensorSource _source = null!;
    private readonly MetricBuffer _buffer = new(128);

    [Params(1, 8)]
    public int Gpus { get; set; }

    /// <summary>One GPU answers every query with an error: its series go stale, the host series skip it.</summary>
    [Params(false, true)]
    public bool OneGpuFailing { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _fake = new FakeNvmlLibrary();
        _fake.SetDeviceCount((uint)Gpus);
        _source = new NvmlSensorSource(new NvmlConfig { LibraryPath = _fake.LibraryPath });
        if (!_source.IsAvailable) throw new InvalidOperationException($"fake NVML did not load from {_fake.LibraryPath}");
        if (OneGpuFailing) _fake.FailDevice(Gpus - 1, 15);
    }

    [Benchmark]
    public int Sample()
    {
        _buffer.Clear();
        _source.Sample(_buffer, Now);
        return _buffer.Count + _buffer.StaleCount;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _source.Dispose();
        _fake.Dispose();
    }
}
