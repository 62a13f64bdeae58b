using Scarcity.Actors.Contracts;
using Scarcity.Actors.Testing;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Sensing.Nvml;

/// <summary>
/// Without a driver, NVML or a GPU the source says so once and reports nothing, and never throws. A driver that is not
/// ready yet is initialised again with backoff; a library installed later is picked up at the next look.
/// </summary>
public sealed class NvmlAvailabilitySpecs : NvmlFixture
{
    private const int DriverNotLoaded = 9;
    private const string Init = "nvmlInit_v2";

    [Fact]
    public void A_library_that_is_not_there_gives_one_log_line_and_no_gpu_metric()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "no-such-dir", "libnvidia-ml.so.1");

        using var source = Open(path);
        var first = Sample(source);
        var second = Sample(source);

        Assert.False(source.IsAvailable);
        Assert.Empty(source.Devices);
        Assert.Equal(0, first.Count + first.StaleCount + second.Count + second.StaleCount);
        var line = Assert.Single(LogLines);
        Assert.Contains("NVML unavailable", line);
        Assert.Contains(path, line);
        Assert.DoesNotContain('\n', line);
    }

    [Fact]
    public void A_library_without_the_nvml_entry_points_gives_one_log_line_and_no_gpu_metric()
    {
        using var source = Open("libc.so.6");

        var buffer = Sample(source);

        Assert.False(source.IsAvailable);
        Assert.Equal(0, buffer.Count + buffer.StaleCount);
        Assert.Contains("is not a usable NVML library", Assert.Single(LogLines));
    }

    [Fact]
    public void A_failed_init_gives_one_log_line_naming_the_error_and_no_gpu_metric_while_it_is_retried()
    {
        Fake.SetInitResult(DriverNotLoaded);

        using var source = Open();
        var buffers = new[] { 0, 1, 100 }.Select(t => Sample(source, At(t))).ToArray();

        Assert.False(source.IsAvailable);
        Assert.All(buffers, buffer => Assert.Equal(0, buffer.Count + buffer.StaleCount));
        Assert.Contains("NVML_ERROR_DRIVER_NOT_LOADED", Assert.Single(LogLines));
        Assert.Equal(4, Fake.Calls(Init)); // at start, then every sample whose retry was due
        Assert.Equal(0, Fake.InitRefs);
    }

    /// <summary>Field case "driver not yet loaded": the governor starts before the NVIDIA driver is ready.</summary>
    [Fact]
    public void Driver_not_yet_loaded_init_is_retried_and_the_gpu_series_appear_without_a_restart()
    {
        Fake.Script(Init, FakeNvmlLibrary.AnyDevice, DriverNotLoaded, times: 1);

        using var source = Open();
        var wasAvailable = source.IsAvailable;
        var buffer = Sample(source, At(0));

        Assert.False(wasAvailable);
        Assert.True(source.IsAvailable);
        Assert.Equal(0.10, Value(buffer, Gpu(MetricNames.GpuUtil, 0)), 9);
        Assert.Equal(0.10, Value(buffer, MetricNames.VramUtil), 9);
        Assert.Equal(0, buffer.StaleCount);
        Assert.Single(LogLines, l => l.Contains("NVML_ERROR_DRIVER_NOT_LOADED") && l.Contains("retried with backoff"));
        Assert.Single(LogLines, l => l.Contains("1 GPU(s)") && l.Contains("attempt 2"));
        Assert.Equal(1, Fake.InitRefs);
    }

    [Fact]
    public void A_driver_that_stays_unready_is_initialised_again_with_backoff_on_the_sample_timestamps()
    {
        Fake.Script(Init, FakeNvmlLibrary.AnyDevice, DriverNotLoaded, times: 4);
        using var source = Open(); // attempt 1

        // Attempts at 0 (next in 1 s), 1 (next in 2 s), 3 (next in 4 s) and 7, which succeeds.
        var calls = new List<int>();
        var available = new List<bool>();
        foreach (var t in new[] { 0, 0.5, 1, 2, 3, 5, 6.9, 7 })
        {
            Sample(source, At(t));
            calls.Add(Fake.Calls(Init));
            available.Add(source.IsAvailable);
        }

        Assert.Equal([2, 2, 3, 3, 4, 4, 4, 5], calls);
        Assert.Equal([false, false, false, false, false, false, false, true], available);
        Assert.Single(LogLines, l => l.Contains("NVML_ERROR_DRIVER_NOT_LOADED"));
    }

    [Fact]
    public void A_driver_that_fails_to_count_its_gpus_is_shut_down_and_started_again()
    {
        Fake.Script("nvmlDeviceGetCount_v2", FakeNvmlLibrary.AnyDevice, Unknown, times: 1);

        using var source = Open();
        var refsWhileFailing = Fake.InitRefs;
        var buffer = Sample(source, At(0));

        Assert.Equal(0, refsWhileFailing);
        Assert.Equal(1, Fake.InitRefs);
        Assert.Equal(0.10, Value(buffer, Gpu(MetricNames.GpuUtil, 0)), 9);
        Assert.Single(LogLines, l => l.Contains("nvmlDeviceGetCount_v2") && l.Contains("NVML_ERROR_UNKNOWN"));
    }

    [Fact]
    public void Disposed_while_waiting_for_the_driver_it_tries_nothing_more()
    {
        Fake.SetInitResult(DriverNotLoaded);
        var source = Open();

        source.Dispose();
        Fake.SetInitResult(0);
        var buffer = Sample(source, At(10));

        Assert.Equal(0, buffer.Count + buffer.StaleCount);
        Assert.Equal(1, Fake.Calls(Init));
        Assert.False(source.IsAvailable);
    }

    [Fact]
    public void A_library_installed_after_start_is_picked_up_at_the_next_look_five_minutes_on()
    {
        var dir = Path.Combine(Path.GetTempPath(), "scarcity-nvml-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var path = Path.Combine(dir, "libnvidia-ml.so.1");
            using var source = Open(path);
            var missing = Sample(source, At(0));     // looked for again at once: still missing, next look in 5 minutes
            File.CreateSymbolicLink(path, Fake.LibraryPath); // the driver is installed: the same library as the fake's
            var early = Sample(source, At(299));
            var found = Sample(source, At(300));

            Assert.Equal(0, missing.Count + missing.StaleCount + early.Count + early.StaleCount);
            Assert.Equal(0.10, Value(found, Gpu(MetricNames.GpuUtil, 0)), 9);
            Assert.True(source.IsAvailable);
            Assert.Single(LogLines, l => l.Contains("cannot be loaded") && l.Contains("5 minutes"));
            Assert.Single(LogLines, l => l.Contains("can be loaded now"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_driver_with_no_gpu_gives_one_log_line_no_gpu_metric_and_shuts_nvml_down()
    {
        Fake.SetDeviceCount(0);

        using var source = Open();
        var buffer = Sample(source);

        Assert.False(source.IsAvailable);
        Assert.Equal(0, buffer.Count + buffer.StaleCount);
        Assert.Contains("no GPU", Assert.Single(LogLines));
        Assert.Equal(0, Fake.InitRefs);
    }

    [Fact]
    public void Turned_off_it_loads_nothing_and_reports_nothing()
    {
        using var source = Open("/no/such/library.so", enabled: false);

        var buffer = Sample(source);

        Assert.False(source.IsAvailable);
        Assert.Equal(0, buffer.Count + buffer.StaleCount);
        Assert.Contains("Scarcity:Gpu:Enabled", Assert.Single(LogLines));
    }
}
