using Scarcity.Actors.Contracts;
using Scarcity.Actors.Testing;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Sensing.Nvml;

/// <summary>
/// A query a GPU cannot answer (NOT_SUPPORTED and the like) is a capability: its series are absent for that GPU, said
/// once, never asked again. A query that fails otherwise is a fault: its series read stale, retried with backoff.
/// </summary>
public sealed class NvmlCapabilitySpecs : NvmlFixture
{
    private const int NoPermission = 4, FunctionNotFound = 13, Timeout = 10;
    private const string Utilisation = "nvmlDeviceGetUtilizationRates";

    /// <summary>Field case "MIG utilisation": on a MIG-partitioned GPU the utilisation query answers NOT_SUPPORTED every time.</summary>
    [Fact]
    public void Mig_utilisation_not_supported_is_a_capability_the_series_are_absent_for_that_gpu_said_once_the_rest_reported()
    {
        Fake.SetDeviceCount(2);
        Fake.SetUtilization(1, 60, 20);
        Fake.SetTemperature(0, 55);
        Fake.Script(Utilisation, 0, NotSupported, FakeNvmlLibrary.Always);
        using var source = Open();

        var samples = Enumerable.Range(0, 40).Select(i => Sample(source, At(i * 0.25))).ToArray(); // 10 s at 250 ms

        foreach (var buffer in samples)
        {
            Assert.Null(buffer.Find(Gpu(MetricNames.GpuUtil, 0)));
            Assert.Null(buffer.Find(Gpu(MetricNames.GpuMemUtil, 0)));
            Assert.Equal(0, buffer.StaleCount); // absent, not stale: a rule on it skips as missing, it does not hold
            Assert.Equal(0.60, Value(buffer, MetricNames.GpuUtil), 9); // the host series is GPU 1's
            Assert.Equal(0.10, Value(buffer, Gpu(MetricNames.VramUtil, 0)), 9);
            Assert.Equal(0.25, Value(buffer, Gpu(MetricNames.GpuPowerUtil, 0)), 9);
            Assert.Equal(55, Value(buffer, Gpu(MetricNames.GpuTempC, 0)));
            Assert.Equal(0, Value(buffer, Gpu(MetricNames.GpuXidErrors, 0)));
        }
        Assert.Equal(1, Fake.Calls(Utilisation, 0));
        var line = Assert.Single(LogLines, l => l.Contains(Utilisation));
        Assert.Contains("NVML_ERROR_NOT_SUPPORTED", line);
        Assert.Contains("gpu_util{gpu=\"0\"}", line);
        Assert.DoesNotContain(LogLines, l => l.Contains("failed with") || l.Contains("retried"));
    }

    public static TheoryData<string[], string[], int> Capabilities()
    {
        var queries = new (string[] Calls, string[] Metrics)[]
        {
            ([Utilisation], [MetricNames.GpuUtil, MetricNames.GpuMemUtil]),
            (["nvmlDeviceGetMemoryInfo_v2", "nvmlDeviceGetMemoryInfo"], [MetricNames.VramUtil]),
            (["nvmlDeviceGetPowerUsage"], [MetricNames.GpuPowerUtil, MetricNames.GpuPowerW]),
            (["nvmlDeviceGetEnforcedPowerLimit"], [MetricNames.GpuPowerUtil, MetricNames.GpuPowerW]),
            (["nvmlDeviceGetTemperature"], [MetricNames.GpuTempC]),
            (["nvmlDeviceGetCurrentClocksEventReasons"], [MetricNames.GpuThrottled, MetricNames.GpuThrottleReasons]),
        };
        var data = new TheoryData<string[], string[], int>();
        foreach (var (calls, metrics) in queries)
            foreach (var rc in new[] { NotSupported, NoPermission, FunctionNotFound })
                data.Add(calls, metrics, rc);
        return data;
    }

    [Theory]
    [MemberData(nameof(Capabilities))]
    public void Every_query_a_gpu_cannot_answer_is_dropped_for_that_gpu_only_said_once_and_never_asked_again(
        string[] calls, string[] metrics, int rc)
    {
        Fake.SetDeviceCount(2);
        foreach (var call in calls) Fake.Script(call, 0, rc, FakeNvmlLibrary.Always);
        using var source = Open();

        var samples = new[] { 0, 1, 3, 70 }.Select(t => Sample(source, At(t))).ToArray();

        foreach (var buffer in samples)
        {
            Assert.Equal(0, buffer.StaleCount);
            foreach (var metric in metrics)
            {
                Assert.Null(buffer.Find(Gpu(metric, 0)));
                Assert.NotNull(buffer.Find(Gpu(metric, 1)));
                Assert.NotNull(buffer.Find(metric)); // the host series, from GPU 1
            }
            // 9 series of GPU 1, the 9 host series, and GPU 0's less the dropped ones.
            Assert.Equal(9 + 9 + 9 - metrics.Length, buffer.Count);
        }
        Assert.True(Fake.Calls(calls[^1], 0) <= 1, $"{calls[^1]} was asked {Fake.Calls(calls[^1], 0)} times");
        Assert.Single(LogLines, l => l.Contains("GPU 0") && l.Contains("not asked again"));
        Assert.DoesNotContain(LogLines, l => l.Contains("failed with"));
    }

    public static TheoryData<string, string, int> Faults()
    {
        var data = new TheoryData<string, string, int>();
        foreach (var (call, metric) in new[]
                 {
                     (Utilisation, MetricNames.GpuUtil),
                     ("nvmlDeviceGetMemoryInfo_v2", MetricNames.VramUtil),
                     ("nvmlDeviceGetPowerUsage", MetricNames.GpuPowerUtil),
                     ("nvmlDeviceGetEnforcedPowerLimit", MetricNames.GpuPowerUtil),
                     ("nvmlDeviceGetTemperature", MetricNames.GpuTempC),
                     ("nvmlDeviceGetCurrentClocksEventReasons", MetricNames.GpuThrottled),
                 })
            foreach (var rc in new[] { GpuIsLost, Unknown, Timeout })
                data.Add(call, metric, rc);
        return data;
    }

    [Theory]
    [MemberData(nameof(Faults))]
    public void A_query_that_fails_reads_stale_and_is_retried_with_backoff_until_it_answers(string call, string metric, int rc)
    {
        using var source = Open();
        Fake.Script(call, 0, rc, FakeNvmlLibrary.Always);

        // Tries at 0 (fails: next in 1 s), 1 (next in 2 s), 3 (next in 4 s), 7 (next in 8 s); the other instants back off.
        var failing = new[] { 0, 0.5, 1, 1.5, 2, 3, 5, 7, 10 }.Select(t => Sample(source, At(t))).ToArray();
        var calls = Fake.Calls(call, 0);
        Fake.Script(call, 0, 0);
        var early = Sample(source, At(14));
        var recovered = Sample(source, At(15));

        foreach (var buffer in failing.Append(early))
        {
            Assert.True(IsStale(buffer, Gpu(metric, 0)), $"{Gpu(metric, 0)} should read stale");
            Assert.Null(buffer.Find(Gpu(metric, 0)));
            Assert.True(IsStale(buffer, metric)); // the only GPU: the host series is stale too, not zero
            Assert.NotNull(buffer.Find(Gpu(MetricNames.GpuXidErrors, 0)));
        }
        Assert.Equal(4, calls);
        Assert.NotNull(recovered.Find(Gpu(metric, 0)));
        Assert.Equal(0, recovered.StaleCount);
        Assert.Single(LogLines, l => l.Contains(call) && l.Contains("failed with") && l.Contains("backoff"));
        Assert.Single(LogLines, l => l.Contains("answers again"));
    }

    [Fact]
    public void The_other_queries_of_a_gpu_keep_reporting_while_one_backs_off()
    {
        using var source = Open();
        Fake.Script("nvmlDeviceGetTemperature", 0, Unknown, FakeNvmlLibrary.Always);

        var buffer = Sample(source, At(0));

        Assert.Equal([Gpu(MetricNames.GpuTempC, 0), MetricNames.GpuTempC], buffer.Stale.ToArray());
        Assert.Equal(0.10, Value(buffer, Gpu(MetricNames.GpuUtil, 0)), 9);
        Assert.Equal(0.25, Value(buffer, Gpu(MetricNames.GpuPowerUtil, 0)), 9);
    }

    [Fact]
    public void A_gpu_this_process_may_not_open_is_left_out_said_once_and_the_others_report()
    {
        Fake.SetDeviceCount(2);
        Fake.Script("nvmlDeviceGetHandleByIndex_v2", 1, NoPermission, FakeNvmlLibrary.Always);
        using var source = Open();

        var first = Sample(source, At(0));
        var later = Sample(source, At(120));

        foreach (var buffer in new[] { first, later })
        {
            Assert.Equal(0, buffer.StaleCount);
            Assert.Null(buffer.Find(Gpu(MetricNames.GpuUtil, 1)));
            Assert.Equal(0.10, Value(buffer, MetricNames.GpuUtil), 9);
        }
        Assert.Equal(1, Fake.Calls("nvmlDeviceGetHandleByIndex_v2", 1));
        Assert.Single(LogLines, l => l.Contains("GPU 1") && l.Contains("NVML_ERROR_NO_PERMISSION"));
        Assert.Equal([0], source.Devices.Select(d => d.Index));
    }

    [Fact]
    public void A_gpu_that_cannot_give_its_uuid_or_name_is_still_read()
    {
        Fake.Script("nvmlDeviceGetUUID", 0, NotSupported, FakeNvmlLibrary.Always);
        Fake.Script("nvmlDeviceGetName", 0, NotSupported, FakeNvmlLibrary.Always);
        using var source = Open();

        var buffer = Sample(source, At(0));

        Assert.Equal(0.10, Value(buffer, Gpu(MetricNames.GpuUtil, 0)), 9);
        var device = Assert.Single(source.Devices);
        Assert.Equal("", device.Uuid);
    }

    [Fact]
    public void Xid_events_the_driver_cannot_wait_on_are_dropped_once_not_recreated_every_sample()
    {
        using var source = Open();
        Fake.Script("nvmlEventSetWait_v2", FakeNvmlLibrary.AnyDevice, NotSupported, FakeNvmlLibrary.Always);

        var buffers = new[] { 0, 1, 2 }.Select(t => Sample(source, At(t))).ToArray();

        foreach (var buffer in buffers)
        {
            Assert.Null(buffer.Find(Gpu(MetricNames.GpuXidErrors, 0)));
            Assert.Equal(0, buffer.StaleCount);
        }
        Assert.Equal(2, Fake.Calls("nvmlEventSetWait_v2")); // at start (empty), and once answering NOT_SUPPORTED
        Assert.Equal(1, Fake.Calls("nvmlEventSetCreate"));
        Assert.False(Fake.EventSetLive);
        Assert.Single(LogLines, l => l.Contains("does not support XID events"));
    }

    [Fact]
    public void A_failing_event_set_is_recreated_with_backoff()
    {
        using var source = Open();
        Fake.FailNextEventWait(Unknown);
        Fake.Script("nvmlEventSetCreate", FakeNvmlLibrary.AnyDevice, Unknown, FakeNvmlLibrary.Always);

        foreach (var t in new[] { 0, 0.5, 1, 1.5, 2, 3 }) Sample(source, At(t)); // broken at 0; created at 0.5, 1.5, 3.5...
        var creates = Fake.Calls("nvmlEventSetCreate");
        Fake.Script("nvmlEventSetCreate", FakeNvmlLibrary.AnyDevice, 0);
        var recovered = Sample(source, At(3.5));

        Assert.Equal(3, creates); // at start, then 0.5 and 1.5
        Assert.Equal(0, Value(recovered, Gpu(MetricNames.GpuXidErrors, 0)));
    }
}
