using Scarcity.Actors.Sensing.Nvml;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Sensing.Nvml;

/// <summary>Without a driver, NVML or a GPU the source says so once and reports nothing, and never throws.</summary>
public sealed class NvmlAvailabilitySpecs : NvmlFixture
{
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
    public void A_failed_init_gives_one_log_line_naming_the_error_and_releases_the_library()
    {
        Fake.SetInitResult(9);

        using var source = Open();
        var buffer = Sample(source);

        Assert.False(source.IsAvailable);
        Assert.Equal(0, buffer.Count + buffer.StaleCount);
        Assert.Contains("NVML_ERROR_DRIVER_NOT_LOADED", Assert.Single(LogLines));
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
