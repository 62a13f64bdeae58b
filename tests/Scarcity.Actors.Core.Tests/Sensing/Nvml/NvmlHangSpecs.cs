using System.Diagnostics;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Sensing;
using Scarcity.Actors.Sensing.Nvml;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Sensing.Nvml;

/// <summary>An NVML call that blocks for seconds costs the GPU series, never the host's.</summary>
public sealed class NvmlHangSpecs : NvmlFixture
{
    private const string Utilisation = "nvmlDeviceGetUtilizationRates";
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Field case "NVML call hangs": the utilisation call blocks 3 s; the Linux and NVML sources sample together every
    /// 250 ms, through the composition the governor builds (<see cref="SensorSources.Create"/>), in real time.
    /// </summary>
    [Fact]
    public async Task Nvml_call_hangs_cpu_memory_disk_and_network_keep_their_250_ms_cadence_and_only_gpu_series_go_stale()
    {
        using var tree = ProcTree.Host();
        var notices = new List<string>();
        var warnings = new List<string>();
        using var sensor = SensorSources.Create(
            new SensorConfig { ProcRoot = tree.Proc, CgroupRoot = tree.Cgroup, Interval = Interval },
            new NvmlConfig { LibraryPath = Fake.LibraryPath }, Add(notices), Add(warnings));
        var buffer = new MetricBuffer();
        var start = Now;
        sensor.Sample(buffer, start); // a healthy first sample: every series known
        var hostSeries = new[] { MetricNames.CpuUtil, MetricNames.MemUtil, MetricNames.DiskReadMb, MetricNames.NetRecvMb };
        var gpuSeries = new[] { Gpu(MetricNames.GpuUtil, 0), Gpu(MetricNames.VramUtil, 0), MetricNames.GpuTempC };

        Fake.SetDelay(Utilisation, 0, TimeSpan.FromSeconds(3), times: 1);
        var ticks = new List<(TimeSpan At, TimeSpan Took, bool HostFresh, bool GpuStale, bool GpuFresh)>();
        var clock = Stopwatch.StartNew();
        using var timer = new PeriodicTimer(Interval);
        // 20 ticks (5 s), and at least 5.5 s of them: a busy machine delays ticks, and a PeriodicTimer folds the ticks it
        // missed into one, so a tick count alone does not say how long the call hung.
        for (var tick = 1; (tick <= 20 || clock.Elapsed < TimeSpan.FromSeconds(5.5)) && await timer.WaitForNextTickAsync(); tick++)
        {
            tree.Stat(user: 100 + 10UL * (ulong)tick, system: 50, idle: 800 + 30UL * (ulong)tick, iowait: 50); // the CPU works on
            buffer.Clear();
            var before = clock.Elapsed;
            sensor.Sample(buffer, start + tick * Interval);
            var took = clock.Elapsed - before;
            var stale = buffer.Stale.ToArray();
            ticks.Add((before, took,
                hostSeries.All(s => buffer.Find(s) is not null) && !stale.Any(hostSeries.Contains),
                gpuSeries.All(stale.Contains),
                gpuSeries.All(s => buffer.Find(s) is not null)));
        }

        // Every tick ends within the interval with fresh host readings: the SensorActor skips none.
        Assert.All(ticks, t => Assert.True(t.Took < Interval, $"a sample took {t.Took.TotalMilliseconds:0} ms"));
        Assert.All(ticks, t => Assert.True(t.HostFresh, "the host series should be fresh in every sample"));
        // The GPU series go stale from the first tick (the hung call) until it returns 3 s later, then come back: timed by
        // the clock, not by counting ticks.
        Assert.True(ticks[0].GpuStale);
        var hungTicks = ticks.TakeWhile(t => t.GpuStale).Count();
        Assert.True(hungTicks < ticks.Count, $"the GPU series were still stale {(ticks[^1].At - ticks[0].At).TotalSeconds:0.00} s after the call hung");
        var staleFor = ticks[hungTicks].At - ticks[0].At; // from the hung call to the first sample with the GPU back
        Assert.True(staleFor >= TimeSpan.FromSeconds(2.75), $"the GPU series came back {staleFor.TotalSeconds:0.00} s after a 3 s hang");
        Assert.True(staleFor <= TimeSpan.FromSeconds(4.5), $"the GPU series came back only {staleFor.TotalSeconds:0.00} s after a 3 s hang");
        Assert.All(ticks.Skip(hungTicks), t => Assert.True(t.GpuFresh, "the GPU series should be fresh again"));
        // Reported once, naming the call; the call was never made again while it hung.
        var hang = Assert.Single(warnings);
        Assert.Contains("nvml hangs", hang);
        Assert.Contains($"{Utilisation} on GPU 0", hang);
        Assert.Single(notices, n => n.Contains("answers again"));
        Assert.Equal(1 + 1 + (ticks.Count - hungTicks), Fake.Calls(Utilisation, 0));
    }

    private static Action<string> Add(List<string> lines) => line =>
    {
        lock (lines) lines.Add(line);
    };
}
