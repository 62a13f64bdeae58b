using Scarcity.Actors.Contracts;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Sensing.Nvml;

/// <summary>Critical XID errors are counted per GPU from an NVML event set, and the count never goes down.</summary>
public sealed class NvmlXidSpecs : NvmlFixture
{
    [Fact]
    public void Xid_events_are_counted_per_gpu_and_the_host_series_is_the_worst_gpu()
    {
        Fake.SetDeviceCount(2);
        using var source = Open();
        Fake.PushXid(1, 79);
        Fake.PushXid(1, 48);
        Fake.PushXid(0, 94);

        var buffer = Sample(source);

        Assert.Equal(1, Value(buffer, Gpu(MetricNames.GpuXidErrors, 0)));
        Assert.Equal(2, Value(buffer, Gpu(MetricNames.GpuXidErrors, 1)));
        Assert.Equal(2, Value(buffer, MetricNames.GpuXidErrors));
    }

    /// <summary>Field case "application XIDs": a user's CUDA program faulting is not a sick GPU.</summary>
    [Fact]
    public void Application_xids_13_31_43_are_counted_apart_by_xid_and_not_as_gpu_hardware_errors()
    {
        Fake.SetDeviceCount(2);
        using var source = Open();
        Fake.PushXid(0, 13);
        Fake.PushXid(0, 31);
        Fake.PushXid(0, 43);

        var faults = Sample(source);
        Fake.PushXid(0, 13);
        Fake.PushXid(0, 79); // the GPU fell off the bus: that one is the GPU's
        var later = Sample(source);

        Assert.Equal(0, Value(faults, Gpu(MetricNames.GpuXidErrors, 0)));
        Assert.Equal(0, Value(faults, MetricNames.GpuXidErrors));
        Assert.Equal(1, Value(faults, AppXid(0, 13)));
        Assert.Equal(1, Value(faults, AppXid(0, 31)));
        Assert.Equal(1, Value(faults, AppXid(0, 43)));
        Assert.Equal(0, faults.StaleCount);
        Assert.Equal(2, Value(later, AppXid(0, 13)));
        Assert.Equal(1, Value(later, Gpu(MetricNames.GpuXidErrors, 0)));
        Assert.Equal(1, Value(later, MetricNames.GpuXidErrors));
        // A series per XID seen, per GPU: nothing for XIDs or GPUs without application faults, and no host series.
        Assert.Equal(3, later.Values.ToArray().Count(v => MetricNames.BaseName(v.Metric) == MetricNames.GpuXidAppErrors));
    }

    [Theory]
    [InlineData(13UL, true)] // Graphics Engine Exception
    [InlineData(31UL, true)] // GPU memory page fault
    [InlineData(43UL, true)] // GPU stopped processing
    [InlineData(45UL, true)] // Preemptive cleanup, due to previous errors
    [InlineData(68UL, true)] // Video processor exception
    [InlineData(48UL, false)] // double-bit ECC error
    [InlineData(63UL, false)] // row remapping / page retirement
    [InlineData(74UL, false)] // NVLink error
    [InlineData(79UL, false)] // fallen off the bus
    [InlineData(94UL, false)] // contained ECC error
    [InlineData(95UL, false)] // uncontained ECC error
    public void Only_the_xids_nvidia_lists_as_application_faults_are_kept_out_of_the_hardware_count(ulong xid, bool application)
    {
        using var source = Open();
        Fake.PushXid(0, xid);

        var buffer = Sample(source);

        Assert.Equal(application ? 0 : 1, Value(buffer, Gpu(MetricNames.GpuXidErrors, 0)));
        Assert.Equal(application ? 1 : null, buffer.Find(AppXid(0, (int)xid)));
    }

    [Fact]
    public void Application_xid_counts_read_stale_with_the_hardware_count_while_the_event_set_is_broken()
    {
        using var source = Open();
        Fake.PushXid(0, 31);
        Sample(source);

        Fake.FailNextEventWait(Unknown);
        var hiccup = Sample(source);
        var recovered = Sample(source);

        Assert.True(IsStale(hiccup, AppXid(0, 31)));
        Assert.Null(hiccup.Find(AppXid(0, 31)));
        Assert.Equal(1, Value(recovered, AppXid(0, 31)));
    }

    private static string AppXid(int gpu, int xid) =>
        MetricNames.Labelled(MetricNames.GpuXidAppErrors, MetricNames.GpuLabel, gpu.ToString(System.Globalization.CultureInfo.InvariantCulture),
            MetricNames.XidLabel, xid.ToString(System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public void A_gpu_without_errors_reads_zero_errors()
    {
        using var source = Open();

        var buffer = Sample(source);

        Assert.Equal(0, Value(buffer, Gpu(MetricNames.GpuXidErrors, 0)));
    }

    [Fact]
    public void The_count_never_resets_between_samples()
    {
        using var source = Open();
        Fake.PushXid(0, 79);
        Sample(source);

        var quiet = Sample(source);
        Fake.PushXid(0, 94);
        var later = Sample(source);

        Assert.Equal(1, Value(quiet, Gpu(MetricNames.GpuXidErrors, 0)));
        Assert.Equal(2, Value(later, Gpu(MetricNames.GpuXidErrors, 0)));
    }

    [Fact]
    public void An_event_set_hiccup_reads_stale_then_the_set_is_recreated_and_the_count_continues()
    {
        Fake.SetDeviceCount(2);
        using var source = Open();
        Fake.PushXid(1, 79);
        Sample(source);

        Fake.FailNextEventWait(Unknown);
        var hiccup = Sample(source);
        var setAfterHiccup = Fake.EventSetLive;
        var recovered = Sample(source);
        Fake.PushXid(1, 79);
        var later = Sample(source);

        Assert.True(IsStale(hiccup, Gpu(MetricNames.GpuXidErrors, 1)));
        Assert.Null(hiccup.Find(Gpu(MetricNames.GpuXidErrors, 1)));
        Assert.True(IsStale(hiccup, MetricNames.GpuXidErrors));
        Assert.Equal(0.10, Value(hiccup, Gpu(MetricNames.GpuUtil, 1)), 9); // the rest of the sample is unaffected
        Assert.False(setAfterHiccup);
        Assert.Equal(1, Value(recovered, Gpu(MetricNames.GpuXidErrors, 1)));
        Assert.Equal(2, Value(later, Gpu(MetricNames.GpuXidErrors, 1)));
        Assert.Equal(2, Value(later, MetricNames.GpuXidErrors));
        Assert.Single(LogLines, l => l.Contains("nvmlEventSetWait_v2 failed"));
        Assert.Single(LogLines, l => l.Contains("works again"));
    }

    [Fact]
    public void A_gpu_that_does_not_support_events_reports_no_xid_series_and_the_others_still_count()
    {
        Fake.SetDeviceCount(2);
        Fake.SetEventsResult(1, NotSupported);
        using var source = Open();
        Fake.PushXid(0, 79);

        var buffer = Sample(source);

        Assert.Equal(1, Value(buffer, Gpu(MetricNames.GpuXidErrors, 0)));
        Assert.Null(buffer.Find(Gpu(MetricNames.GpuXidErrors, 1)));
        Assert.False(IsStale(buffer, Gpu(MetricNames.GpuXidErrors, 1)));
        Assert.Equal(0, buffer.StaleCount);
    }

    [Fact]
    public void A_failed_registration_reads_stale_and_is_retried_with_backoff()
    {
        using var source = Open(); // registered at start
        Fake.FailNextEventWait(Unknown);
        Sample(source);            // set freed
        Fake.SetEventsResult(0, Unknown);

        var failing = Sample(source, At(0));
        Fake.SetEventsResult(0, 0);
        var waiting = Sample(source, At(0.5)); // registration backs off 1 s
        var retried = Sample(source, At(1));

        Assert.True(IsStale(failing, Gpu(MetricNames.GpuXidErrors, 0)));
        Assert.True(IsStale(waiting, Gpu(MetricNames.GpuXidErrors, 0)));
        Assert.Equal(0, Value(retried, Gpu(MetricNames.GpuXidErrors, 0)));
    }
}
