using Scarcity.Actors.Sensing;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Sensing;

public sealed class CompositeSensorSourceSpecs
{
    private static readonly DateTimeOffset Now = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private sealed class FakeSource(string name, Action<MetricBuffer> sample) : ISensorSource
    {
        public string Name => name;
        public bool Disposed { get; private set; }
        public Action<MetricBuffer> Body { get; set; } = sample;
        public void Sample(MetricBuffer buffer, DateTimeOffset now) => Body(buffer);
        public void Dispose() => Disposed = true;
    }

    [Fact]
    public void Samples_every_source_into_one_buffer_in_order()
    {
        var host = new FakeSource("linux", b => b.Add("cpu_util", 0.3));
        var gpu = new FakeSource("nvml", b => b.Add("vram_util", 0.7));
        using var composite = new CompositeSensorSource([host, gpu]);
        var buffer = new MetricBuffer();

        composite.Sample(buffer, Now);

        Assert.Equal(["cpu_util", "vram_util"], buffer.Values.ToArray().Select(v => v.Metric));
        Assert.Equal("composite(linux,nvml)", composite.Name);
    }

    [Fact]
    public void A_source_that_throws_goes_stale_and_the_others_still_report()
    {
        var failures = new List<(ISensorSource Source, Exception Error)>();
        var host = new FakeSource("linux", b => b.Add("cpu_util", 0.3));
        var gpu = new FakeSource("nvml", b =>
        {
            b.Add("vram_util{gpu=\"0\"}", 0.7);
            b.AddStale("gpu_temp_c{gpu=\"0\"}");
        });
        var other = new FakeSource("disk", b => b.Add("disk_read_mb", 1));
        using var composite = new CompositeSensorSource([host, gpu, other], (s, e) => failures.Add((s, e)));
        var buffer = new MetricBuffer();
        composite.Sample(buffer, Now);

        var boom = new InvalidOperationException("NVML_ERROR_GPU_IS_LOST");
        gpu.Body = b =>
        {
            b.Add("vram_util{gpu=\"0\"}", 0.99); // partial reading before the failure
            throw boom;
        };
        buffer.Clear();
        composite.Sample(buffer, Now.AddSeconds(1));

        Assert.Equal([("cpu_util", 0.3), ("disk_read_mb", 1.0)], buffer.Values.ToArray().Select(v => (v.Metric, v.Value)));
        Assert.Equal(["vram_util{gpu=\"0\"}", "gpu_temp_c{gpu=\"0\"}"], buffer.Stale.ToArray());
        Assert.Equal((gpu, boom), Assert.Single(failures));
    }

    [Fact]
    public void A_failed_source_reports_again_once_it_recovers()
    {
        var calls = 0;
        var flaky = new FakeSource("nvml", b =>
        {
            if (++calls == 2) throw new IOException("transient");
            b.Add("gpu_util", calls);
        });
        using var composite = new CompositeSensorSource([flaky]);
        var buffer = new MetricBuffer();

        composite.Sample(buffer, Now);
        buffer.Clear();
        composite.Sample(buffer, Now);
        Assert.Equal(["gpu_util"], buffer.Stale.ToArray());
        buffer.Clear();
        composite.Sample(buffer, Now);

        Assert.Equal(3.0, buffer.Find("gpu_util"));
        Assert.Equal(0, buffer.StaleCount);
    }

    [Fact]
    public void Disposing_the_composite_disposes_every_source()
    {
        var a = new FakeSource("a", _ => { });
        var b = new FakeSource("b", _ => { });

        new CompositeSensorSource([a, b]).Dispose();

        Assert.True(a.Disposed);
        Assert.True(b.Disposed);
    }
}
