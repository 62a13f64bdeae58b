using Scarcity.Actors.Contracts;
using Scarcity.Actors.Sensing;
using Scarcity.Actors.Sensing.Nvml;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Sensing.Nvml;

public sealed class NvmlSensorSourceSpecs : NvmlFixture
{
    [Fact]
    public void Every_gpu_is_reported_under_its_label_and_the_host_series_is_the_worst_gpu()
    {
        Fake.SetDeviceCount(3);
        Fake.SetUtilization(0, 20, 10);
        Fake.SetUtilization(1, 90, 35);
        Fake.SetUtilization(2, 55, 70);
        Fake.SetMemory(0, 80 * GiB, 60 * GiB);
        Fake.SetMemory(1, 80 * GiB, 20 * GiB);
        Fake.SetMemory(2, 40 * GiB, 10 * GiB);
        Fake.SetTemperature(2, 81);
        using var source = Open();

        var buffer = Sample(source);

        Assert.Equal(0.20, Value(buffer, Gpu(MetricNames.GpuUtil, 0)), 9);
        Assert.Equal(0.90, Value(buffer, Gpu(MetricNames.GpuUtil, 1)), 9);
        Assert.Equal(0.70, Value(buffer, Gpu(MetricNames.GpuMemUtil, 2)), 9);
        Assert.Equal(0.75, Value(buffer, Gpu(MetricNames.VramUtil, 0)), 9);
        Assert.Equal(0.25, Value(buffer, Gpu(MetricNames.VramUtil, 2)), 9);
        Assert.Equal(0.90, Value(buffer, MetricNames.GpuUtil), 9);
        Assert.Equal(0.70, Value(buffer, MetricNames.GpuMemUtil), 9);
        Assert.Equal(0.75, Value(buffer, MetricNames.VramUtil), 9);
        Assert.Equal(81, Value(buffer, MetricNames.GpuTempC));
        Assert.Equal(0, buffer.StaleCount);
        // 9 series per GPU and 9 host series.
        Assert.Equal(3 * 9 + 9, buffer.Count);
    }

    [Fact]
    public void Devices_carry_nvml_index_uuid_and_name_and_start_up_is_one_log_line()
    {
        Fake.SetDeviceCount(2);

        using var source = Open();

        Assert.True(source.IsAvailable);
        Assert.Equal("nvml", source.Name);
        Assert.Equal([0, 1], source.Devices.Select(d => d.Index));
        Assert.Equal("GPU-fa4e0000-0000-4000-8000-000000000001", source.Devices[1].Uuid);
        Assert.Equal("Fake NVIDIA H100 80GB HBM3", source.Devices[0].Name);
        var line = Assert.Single(LogLines);
        Assert.Contains("2 GPU(s)", line);
    }

    [Fact]
    public void A_failing_device_reads_stale_not_zero_and_the_host_series_uses_the_healthy_ones()
    {
        Fake.SetDeviceCount(3);
        Fake.SetUtilization(0, 30, 5);
        Fake.SetUtilization(1, 95, 5);
        Fake.SetUtilization(2, 40, 5);
        using var source = Open();
        Fake.FailDevice(1, GpuIsLost);

        var buffer = Sample(source);

        foreach (var metric in new[] { MetricNames.GpuUtil, MetricNames.GpuMemUtil, MetricNames.VramUtil, MetricNames.GpuPowerUtil,
                     MetricNames.GpuTempC, MetricNames.GpuThrottled, MetricNames.GpuThrottleReasons })
        {
            Assert.True(IsStale(buffer, Gpu(metric, 1)), $"{Gpu(metric, 1)} should be stale");
            Assert.Null(buffer.Find(Gpu(metric, 1)));
        }
        Assert.Equal(0.40, Value(buffer, MetricNames.GpuUtil), 9);
        Assert.Equal(0.30, Value(buffer, Gpu(MetricNames.GpuUtil, 0)), 9);
        Assert.Contains(LogLines, l => l.Contains("GPU 1") && l.Contains("NVML_ERROR_GPU_IS_LOST"));
    }

    [Fact]
    public void A_failing_device_is_retried_with_backoff_and_recovers_with_one_log_line_each_way()
    {
        Fake.SetDeviceCount(2);
        Fake.SetUtilization(1, 95, 5);
        using var source = Open();
        Fake.FailDevice(1, Unknown);
        Sample(source, At(0));    // fails: next try in 1 s
        Sample(source, At(0.25)); // backing off: stale without a call
        Sample(source, At(0.5));
        var calls = Fake.Calls("nvmlDeviceGetUtilizationRates", 1);

        Fake.FailDevice(1, 0);
        var early = Sample(source, At(0.75));
        var buffer = Sample(source, At(1));

        Assert.Equal(1, calls);
        Assert.True(IsStale(early, Gpu(MetricNames.GpuUtil, 1)));
        Assert.Equal(0.95, Value(buffer, Gpu(MetricNames.GpuUtil, 1)), 9);
        Assert.Equal(0.95, Value(buffer, MetricNames.GpuUtil), 9);
        Assert.Equal(0, buffer.StaleCount);
        Assert.Single(LogLines, l => l.Contains("failed with NVML_ERROR_UNKNOWN"));
        Assert.Single(LogLines, l => l.Contains("answers again"));
    }

    [Fact]
    public void When_every_device_fails_the_host_series_read_stale_but_xid_counts_stay_reported()
    {
        Fake.SetDeviceCount(2);
        using var source = Open();
        Fake.FailDevice(0, GpuIsLost);
        Fake.FailDevice(1, GpuIsLost);
        Fake.PushXid(1, 79); // "GPU has fallen off the bus" usually comes with the failure: it must stay visible

        var buffer = Sample(source);

        Assert.True(IsStale(buffer, MetricNames.GpuUtil));
        Assert.True(IsStale(buffer, MetricNames.VramUtil));
        Assert.True(IsStale(buffer, MetricNames.GpuTempC));
        Assert.Equal(
            [Gpu(MetricNames.GpuXidErrors, 0), Gpu(MetricNames.GpuXidErrors, 1), MetricNames.GpuXidErrors],
            buffer.Values.ToArray().Select(v => v.Metric));
        Assert.Equal(1, Value(buffer, MetricNames.GpuXidErrors));
    }

    [Fact]
    public void A_device_that_does_not_answer_at_start_is_picked_up_once_it_does()
    {
        Fake.SetDeviceCount(2);
        Fake.FailDevice(1, Unknown);
        using var source = Open();

        var before = Sample(source, At(0)); // fails again: looked up again in 1 s
        Fake.FailDevice(1, 0);
        Sample(source, At(1)); // resolves the device; its XID registration follows on the next sample
        var after = Sample(source, At(1.25));

        Assert.True(IsStale(before, Gpu(MetricNames.GpuUtil, 1)));
        Assert.True(IsStale(before, Gpu(MetricNames.GpuXidErrors, 1)));
        Assert.Equal(0.10, Value(after, Gpu(MetricNames.GpuUtil, 1)), 9);
        Assert.Equal(0, Value(after, Gpu(MetricNames.GpuXidErrors, 1)));
        Assert.Equal(2, source.Devices.Count);
    }

    [Fact]
    public void Memory_is_read_through_v2_where_the_driver_has_it_so_reserved_memory_is_not_used_memory()
    {
        Fake.SetMemory(0, 80 * GiB, 20 * GiB); // the fake reserves 512 MiB on top
        using var source = Open();

        var buffer = Sample(source);

        Assert.Equal(0.25, Value(buffer, Gpu(MetricNames.VramUtil, 0)), 9);
        Assert.Equal(1, Fake.MemoryV2Calls);
        Assert.Equal(0, Fake.MemoryV1Calls);
    }

    [Fact]
    public void Memory_falls_back_to_v1_for_good_when_the_driver_refuses_v2()
    {
        Fake.SetMemory(0, 80 * GiB, 20 * GiB);
        Fake.SetMemoryV2Result(NotSupported);
        using var source = Open();

        var first = Sample(source);
        var second = Sample(source);

        var v1 = (20.0 * GiB + 512.0 * (1 << 20)) / (80.0 * GiB);
        Assert.Equal(v1, Value(first, Gpu(MetricNames.VramUtil, 0)), 9);
        Assert.Equal(v1, Value(second, Gpu(MetricNames.VramUtil, 0)), 9);
        Assert.Equal(1, Fake.MemoryV2Calls);
        Assert.Equal(2, Fake.MemoryV1Calls);
        Assert.Single(LogLines, l => l.Contains("nvmlDeviceGetMemoryInfo (v1)"));
    }

    [Fact]
    public void Memory_is_read_through_v1_when_the_library_has_no_v2_export()
    {
        UseFake(Scarcity.Actors.Testing.FakeNvmlLibrary.WithoutMemoryV2Path);
        Fake.SetMemory(0, 80 * GiB, 20 * GiB);
        using var source = Open();

        var buffer = Sample(source);

        Assert.Equal((20.0 * GiB + 512.0 * (1 << 20)) / (80.0 * GiB), Value(buffer, Gpu(MetricNames.VramUtil, 0)), 9);
        Assert.Equal(1, Fake.MemoryV1Calls);
        Assert.Contains("nvmlDeviceGetMemoryInfo (v1)", Assert.Single(LogLines));
    }

    [Fact]
    public void Power_is_usage_over_the_enforced_limit_and_a_zero_limit_reads_stale()
    {
        Fake.SetDeviceCount(2);
        Fake.SetPower(0, 300_000, 400_000);
        Fake.SetPower(1, 150_000, 0);
        using var source = Open();

        var buffer = Sample(source);

        Assert.Equal(0.75, Value(buffer, Gpu(MetricNames.GpuPowerUtil, 0)), 9);
        Assert.True(IsStale(buffer, Gpu(MetricNames.GpuPowerUtil, 1)));
        Assert.Equal(0.75, Value(buffer, MetricNames.GpuPowerUtil), 9);
    }

    [Fact]
    public void Power_in_watts_is_read_per_gpu_even_without_a_limit_and_the_host_series_is_their_sum()
    {
        Fake.SetDeviceCount(2);
        Fake.SetPower(0, 300_000, 400_000);
        Fake.SetPower(1, 150_000, 0);
        using var source = Open();

        var buffer = Sample(source);

        Assert.Equal(300, Value(buffer, Gpu(MetricNames.GpuPowerW, 0)), 9);
        Assert.Equal(150, Value(buffer, Gpu(MetricNames.GpuPowerW, 1)), 9);
        Assert.Equal(450, Value(buffer, MetricNames.GpuPowerW), 9); // what a rack's power budget adds up, not the worst GPU
    }

    [Theory]
    [InlineData(0x0UL, 0)]   // none
    [InlineData(0x1UL, 0)]   // GpuIdle only: clocks are down because there is no work
    [InlineData(0x2UL, 0)]   // ApplicationsClocksSetting: an operator pinned the clocks
    [InlineData(0x10UL, 0)]  // SyncBoost: the GPU runs at its sync-boost group's clocks
    [InlineData(0x100UL, 0)] // DisplayClockSetting
    [InlineData(0x113UL, 0)] // every setting at once, while idle
    [InlineData(0x4UL, 1)]   // SwPowerCap
    [InlineData(0x8UL, 1)]   // HwSlowdown
    [InlineData(0x20UL, 1)]  // SwThermalSlowdown
    [InlineData(0x41UL, 1)]  // HwThermalSlowdown while idle
    [InlineData(0x80UL, 1)]  // HwPowerBrakeSlowdown
    [InlineData(0x102UL, 0)] // application and display clocks set: not throttled
    [InlineData(0x106UL, 1)] // the same, and the power cap bites
    public void Throttled_means_power_or_thermal_protection_not_idle_or_clock_settings_and_the_mask_is_reported_as_is(
        ulong mask, int throttled)
    {
        Fake.SetThrottleReasons(0, mask);
        using var source = Open();

        var buffer = Sample(source);

        Assert.Equal(throttled, Value(buffer, Gpu(MetricNames.GpuThrottled, 0)));
        Assert.Equal(mask, (ulong)Value(buffer, Gpu(MetricNames.GpuThrottleReasons, 0)));
    }

    [Fact]
    public void The_host_throttle_mask_holds_every_gpus_reasons()
    {
        Fake.SetDeviceCount(3);
        Fake.SetThrottleReasons(0, 0x4);
        Fake.SetThrottleReasons(1, 0x40);
        Fake.SetThrottleReasons(2, 0x1);
        using var source = Open();

        var buffer = Sample(source);

        Assert.Equal(0x45UL, (ulong)Value(buffer, MetricNames.GpuThrottleReasons));
        Assert.Equal(1, Value(buffer, MetricNames.GpuThrottled));
        Assert.Equal(0, Value(buffer, Gpu(MetricNames.GpuThrottled, 2)));
    }

    [Fact]
    public void Sampling_eight_gpus_allocates_nothing_in_steady_state()
    {
        Fake.SetDeviceCount(8);
        using var source = Open();
        var buffer = new MetricBuffer(128);
        for (var i = 0; i < 10; i++) { buffer.Clear(); source.Sample(buffer, Now); }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++) { buffer.Clear(); source.Sample(buffer, Now); }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(8 * 9 + 9, buffer.Count);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Dispose_frees_the_event_set_and_shuts_nvml_down()
    {
        var source = Open();
        Assert.True(Fake.EventSetLive);
        Assert.Equal(1, Fake.InitRefs);

        source.Dispose();
        source.Dispose();

        Assert.False(Fake.EventSetLive);
        Assert.Equal(0, Fake.InitRefs);
        Assert.Equal(0, Sample(source).Count);
    }
}
