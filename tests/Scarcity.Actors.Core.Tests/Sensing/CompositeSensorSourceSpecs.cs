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

    /// <summary>A source whose sample blocks while its gate is shut, as a call into a sick driver does.</summary>
    private sealed class GatedSource(string name, string metric) : ISensorSource
    {
        private int _inside;
        private int _calls;
        private int _maxInside;

        public ManualResetEventSlim Gate { get; } = new(true);
        public string Name => name;
        public int Calls => Volatile.Read(ref _calls);
        public int Inside => Volatile.Read(ref _inside);
        public int MostAtOnce => Volatile.Read(ref _maxInside);
        public bool Disposed { get; private set; }

        public void Sample(MetricBuffer buffer, DateTimeOffset now)
        {
            var inside = Interlocked.Increment(ref _inside);
            InterlockedMax(ref _maxInside, inside);
            var call = Interlocked.Increment(ref _calls);
            Gate.Wait();
            buffer.Add(metric, call);
            Interlocked.Decrement(ref _inside);
        }

        public void Dispose() => Disposed = true;

        private static void InterlockedMax(ref int target, int value)
        {
            int seen;
            while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
        }
    }

    [Fact]
    public void A_hung_source_reads_stale_while_the_others_keep_their_cadence_and_is_reported_once_and_not_called_again()
    {
        var failures = new List<(ISensorSource Source, Exception Error)>();
        var notices = new List<string>();
        var reads = 0;
        var host = new FakeSource("linux", b => b.Add("cpu_util", ++reads));
        var gpu = new GatedSource("nvml", "gpu_util");
        using var composite = new CompositeSensorSource([host, gpu], (s, e) => failures.Add((s, e)),
            TimeSpan.FromMilliseconds(100), notices.Add);
        var buffer = new MetricBuffer();
        composite.Sample(buffer, Now);

        gpu.Gate.Reset(); // the GPU's next call blocks until the gate opens
        var durations = new List<TimeSpan>();
        var hung = new List<(double? Cpu, double? Gpu, bool GpuStale)>();
        for (var i = 1; i <= 8; i++)
        {
            buffer.Clear();
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            composite.Sample(buffer, Now.AddMilliseconds(250 * i));
            durations.Add(System.Diagnostics.Stopwatch.GetElapsedTime(started));
            hung.Add((buffer.Find("cpu_util"), buffer.Find("gpu_util"), buffer.Stale.ToArray().Contains("gpu_util")));
        }
        var callsWhileHung = gpu.Calls;

        gpu.Gate.Set();
        var recovered = SampleUntil(composite, buffer, b => b.Find("gpu_util") is not null);

        Assert.All(durations, d => Assert.True(d < TimeSpan.FromMilliseconds(250), $"a sample took {d.TotalMilliseconds} ms"));
        Assert.Equal(Enumerable.Range(2, 8).Select(n => ((double?)n, (double?)null, true)), hung);
        Assert.Equal(2, callsWhileHung); // the hung call, and never another one beside it
        Assert.Equal(1, gpu.MostAtOnce);
        var (source, error) = Assert.Single(failures);
        Assert.Same(gpu, source);
        Assert.IsType<TimeoutException>(error);
        Assert.Contains("nvml has not answered within 100 ms", error.Message);
        Assert.True(recovered, "the source should report again once its call returns");
        Assert.Equal(0, buffer.StaleCount);
        Assert.Contains("answers again", Assert.Single(notices));
    }

    [Fact]
    public void A_reading_that_comes_back_after_the_deadline_is_not_passed_off_as_a_later_one()
    {
        var gpu = new GatedSource("nvml", "gpu_util");
        using var composite = new CompositeSensorSource([gpu], deadline: TimeSpan.FromMilliseconds(20));
        var buffer = new MetricBuffer();
        composite.Sample(buffer, Now); // call 1 answers

        gpu.Gate.Reset();
        buffer.Clear();
        composite.Sample(buffer, Now.AddSeconds(1)); // call 2 hangs
        gpu.Gate.Set();
        var returned = SpinWait.SpinUntil(() => gpu.Inside == 0, TimeSpan.FromSeconds(5));
        var late = new MetricBuffer();
        var reported = SampleUntil(composite, late, b => b.Find("gpu_util") is not null);

        // The reading of call 2 was taken for the sample at 1 s; a later sample reports call 3's.
        Assert.True(returned && reported);
        Assert.Equal(3.0, late.Find("gpu_util"));
    }

    [Fact]
    public void Disposing_waits_for_no_hung_source_and_disposes_it_once_its_call_returns()
    {
        var gpu = new GatedSource("nvml", "gpu_util");
        var composite = new CompositeSensorSource([gpu], deadline: TimeSpan.FromMilliseconds(20));
        gpu.Gate.Reset();
        composite.Sample(new MetricBuffer(), Now);

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        composite.Dispose();
        var took = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        var disposedUnderTheCall = gpu.Disposed;
        gpu.Gate.Set();

        Assert.True(took < TimeSpan.FromMilliseconds(500), $"Dispose waited {took.TotalMilliseconds} ms for a hung source");
        Assert.False(disposedUnderTheCall);
        Assert.True(SpinWait.SpinUntil(() => gpu.Disposed, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void Isolating_the_sources_allocates_nothing_per_sample_on_the_sampling_thread()
    {
        var host = new FakeSource("linux", b => { b.Add("cpu_util", 0.3); b.AddStale("psi_cpu"); });
        var gpu = new FakeSource("nvml", b => b.Add("gpu_util", 0.7));
        using var composite = new CompositeSensorSource([host, gpu], deadline: TimeSpan.FromSeconds(1));
        var buffer = new MetricBuffer();
        for (var i = 0; i < 50; i++) { buffer.Clear(); composite.Sample(buffer, Now); }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++) { buffer.Clear(); composite.Sample(buffer, Now); }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(["cpu_util", "gpu_util"], buffer.Values.ToArray().Select(v => v.Metric));
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void The_deadline_must_be_positive()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            new CompositeSensorSource([new FakeSource("a", _ => { })], deadline: TimeSpan.Zero));
    }

    private static bool SampleUntil(CompositeSensorSource composite, MetricBuffer buffer, Func<MetricBuffer, bool> done)
    {
        for (var i = 0; i < 100; i++)
        {
            buffer.Clear();
            composite.Sample(buffer, Now.AddSeconds(10 + i));
            if (done(buffer)) return true;
        }
        return false;
    }

    [Fact]
    public void Disposing_the_composite_disposes_every_source()
    {
        var a = new FakeSource("a", _ => { });
        var b = new FakeSource("b", _ => { });

        var composite = new CompositeSensorSource([a, b]);
        composite.Dispose();
        var buffer = new MetricBuffer();
        composite.Sample(buffer, Now); // a sample that races the SensorActor's stop reads nothing

        Assert.True(a.Disposed);
        Assert.True(b.Disposed);
        Assert.Equal(0, buffer.Count + buffer.StaleCount);
    }
}
