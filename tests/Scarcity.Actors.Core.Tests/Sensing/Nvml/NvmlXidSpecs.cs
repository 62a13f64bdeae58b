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
        Fake.PushXid(0, 13);

        var buffer = Sample(source);

        Assert.Equal(1, Value(buffer, Gpu(MetricNames.GpuXidErrors, 0)));
        Assert.Equal(2, Value(buffer, Gpu(MetricNames.GpuXidErrors, 1)));
        Assert.Equal(2, Value(buffer, MetricNames.GpuXidErrors));
    }

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
    public void A_failed_registration_reads_stale_and_is_retried()
    {
        using var source = Open(); // registered at start
        Fake.FailNextEventWait(Unknown);
        Sample(source);            // set freed
        Fake.SetEventsResult(0, Unknown);

        var failing = Sample(source);
        Fake.SetEventsResult(0, 0);
        var retried = Sample(source);

        Assert.True(IsStale(failing, Gpu(MetricNames.GpuXidErrors, 0)));
        Assert.Equal(0, Value(retried, Gpu(MetricNames.GpuXidErrors, 0)));
    }
}
