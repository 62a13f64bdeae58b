using Scarcity.Actors.Contracts;
using Scarcity.Actors.Sensing;
using Scarcity.Actors.Sensing.Nvml;
using Scarcity.Actors.Testing;

namespace Scarcity.Actors.Core.Tests.Sensing.Nvml;

/// <summary>Shared arrange steps: a freshly reset fake NVML, a log that records lines, and sampling helpers.</summary>
public abstract class NvmlFixture : IDisposable
{
    protected const int GpuIsLost = 15;
    protected const int Unknown = 999;
    protected const int NotSupported = 3;
    protected const ulong GiB = 1UL << 30;
    protected static readonly DateTimeOffset Now = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly List<NvmlSensorSource> _sources = [];

    internal FakeNvmlLibrary Fake { get; private set; } = new();
    protected List<string> LogLines { get; } = [];

    internal void UseFake(string path)
    {
        Fake.Dispose();
        Fake = new FakeNvmlLibrary(path);
    }

    protected NvmlSensorSource Open(string? libraryPath = null, bool enabled = true)
    {
        var source = new NvmlSensorSource(
            new NvmlConfig { LibraryPath = libraryPath ?? Fake.LibraryPath, Enabled = enabled }, LogLines.Add);
        _sources.Add(source);
        return source;
    }

    protected static MetricBuffer Sample(ISensorSource source) => Sample(source, Now);

    protected static MetricBuffer Sample(ISensorSource source, DateTimeOffset at)
    {
        var buffer = new MetricBuffer();
        source.Sample(buffer, at);
        return buffer;
    }

    /// <summary>A sample instant <paramref name="seconds"/> after <see cref="Now"/>: retries back off on these timestamps.</summary>
    protected static DateTimeOffset At(double seconds) => Now.AddSeconds(seconds);

    protected static string Gpu(string metric, int index) =>
        MetricNames.Labelled(metric, MetricNames.GpuLabel, index.ToString(System.Globalization.CultureInfo.InvariantCulture));

    protected static double Value(MetricBuffer buffer, string series) =>
        buffer.Find(series) ?? throw new Xunit.Sdk.XunitException($"{series} was not reported; stale: [{string.Join(", ", buffer.Stale.ToArray())}]");

    protected static bool IsStale(MetricBuffer buffer, string series) => buffer.Stale.ToArray().Contains(series);

    public void Dispose()
    {
        foreach (var source in _sources) source.Dispose();
        Fake.Dispose();
        GC.SuppressFinalize(this);
    }
}
