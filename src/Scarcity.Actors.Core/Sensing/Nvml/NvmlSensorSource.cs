using Scarcity.Actors.Configuration;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Sensing.Nvml;

/// <summary>
/// Reads every NVIDIA GPU of the host through NVML: utilisation, VRAM, power against the enforced limit, temperature,
/// clock-event (throttle) reasons and critical XID errors (the GPU's own apart from those of a user's program), one
/// series per GPU labelled <c>gpu="i"</c>, plus the unlabelled host series of each metric as the worst GPU.
/// </summary>
/// <remarks>
/// Where there is no driver, no NVML or no GPU the source says so in one log line and reports nothing, so rules on GPU
/// metrics skip as missing rather than read zero. A call that fails for one device turns that device's series stale
/// and is retried next sample; the host series are computed over the devices that answered. Sampling allocates nothing
/// in steady state: series names are built once per device, native structs live on the stack, and XID events are
/// drained with a zero timeout, so a sample never blocks.
/// </remarks>
public sealed unsafe class NvmlSensorSource : ISensorSource
{
    // Slots of the per-GPU series, in the order a sample reports them.
    private const int VramUtil = 0, GpuUtil = 1, GpuMemUtil = 2, GpuPowerUtil = 3, GpuTempC = 4, GpuThrottled = 5,
        GpuThrottleReasons = 6, GpuXidErrors = 7, SlotCount = 8;

    private static readonly string[] SlotMetrics =
    [
        MetricNames.VramUtil, MetricNames.GpuUtil, MetricNames.GpuMemUtil, MetricNames.GpuPowerUtil,
        MetricNames.GpuTempC, MetricNames.GpuThrottled, MetricNames.GpuThrottleReasons, MetricNames.GpuXidErrors,
    ];

    // Bounds the events drained per sample, so a storm of XIDs cannot stall sampling; the rest wait for the next one.
    private const int MaxEventsPerSample = 256;

    private readonly Action<string>? _log;
    private readonly Gpu[] _gpus = [];
    private readonly double[] _host = new double[SlotCount];
    private readonly bool[] _hostRead = new bool[SlotCount];
    private readonly bool[] _hostExpected = new bool[SlotCount];
    private NvmlLibrary? _nvml;
    private bool _useMemoryV2;
    private bool _eventsSupported;
    private nint _eventSet;
    private int _eventSetFailure;

    /// <summary>
    /// Loads NVML and enumerates the GPUs. Never throws for a missing driver or library: the source then reports no
    /// GPU series and <see cref="IsAvailable"/> is false.
    /// </summary>
    /// <param name="options">Validated here; an unusable option throws <see cref="DRGConfigException"/> naming it.</param>
    /// <param name="log">Receives one line per state change (start, driver absent, device failing or back); may be null.</param>
    public NvmlSensorSource(NvmlConfig options, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.EnsureValid(NvmlConfig.Section);
        _log = log;

        if (!options.Enabled)
        {
            Log($"NVML: GPU sensing is off ({NvmlConfig.Section}:{nameof(NvmlConfig.Enabled)} = false); no GPU metrics.");
            return;
        }

        NvmlLibrary nvml;
        try
        {
            nvml = new NvmlLibrary(options.LibraryPath);
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException or EntryPointNotFoundException)
        {
            var what = e is EntryPointNotFoundException ? "is not a usable NVML library" : "cannot be loaded";
            Log($"NVML unavailable: '{options.LibraryPath}' {what} ({OneLine(e.Message)}); no GPU metrics, " +
                "the rest of the governor runs.");
            return;
        }

        var rc = nvml.Init();
        if (rc != NvmlReturn.Success)
        {
            Log($"NVML unavailable: nvmlInit_v2 in '{options.LibraryPath}' failed with {NvmlReturn.Describe(rc)} " +
                "(is the NVIDIA driver loaded?); no GPU metrics, the rest of the governor runs.");
            nvml.Dispose();
            return;
        }

        uint count;
        rc = nvml.DeviceGetCount(&count);
        if (rc != NvmlReturn.Success || count == 0)
        {
            Log(rc != NvmlReturn.Success
                ? $"NVML unavailable: nvmlDeviceGetCount_v2 failed with {NvmlReturn.Describe(rc)}; no GPU metrics, the rest of the governor runs."
                : $"NVML: the driver in '{options.LibraryPath}' reports no GPU; no GPU metrics.");
            nvml.Shutdown();
            nvml.Dispose();
            return;
        }

        _nvml = nvml;
        _useMemoryV2 = nvml.DeviceGetMemoryInfoV2 != null;
        _eventsSupported = nvml.HasEvents;
        _gpus = new Gpu[count];
        for (var i = 0; i < _gpus.Length; i++)
        {
            _gpus[i] = new Gpu(i);
            TryResolve(_gpus[i], out _, out _);
        }
        PollEvents();

        var names = new StringBuilder();
        foreach (var gpu in _gpus)
            names.Append(names.Length == 0 ? "" : ", ").Append(gpu.Index).Append(' ')
                .Append(gpu.Handle == 0 ? "(not answering yet)" : $"{gpu.Name} {gpu.Uuid}");
        Log($"NVML: {count} GPU(s) from '{options.LibraryPath}': {names}" +
            (_useMemoryV2 ? "" : "; memory through nvmlDeviceGetMemoryInfo (v1)") +
            (_eventsSupported ? "" : "; no XID event API, gpu_xid_errors not reported") + ".");
    }

    /// <inheritdoc />
    public string Name => "nvml";

    /// <summary>True when NVML loaded and found at least one GPU; false means the source reports nothing.</summary>
    public bool IsAvailable => _nvml is not null;

    /// <summary>The GPUs that have answered so far, by index.</summary>
    public IReadOnlyList<NvmlDevice> Devices =>
        _gpus.Where(g => g.Handle != 0).Select(g => new NvmlDevice(g.Index, g.Uuid, g.Name)).ToArray();

    /// <inheritdoc />
    public void Sample(MetricBuffer buffer, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        var nvml = _nvml;
        if (nvml is null) return;

        Array.Clear(_hostRead);
        Array.Clear(_hostExpected);
        Array.Clear(_host);

        PollEvents();
        foreach (var gpu in _gpus)
            SampleGpu(nvml, gpu, buffer);

        for (var slot = 0; slot < SlotCount; slot++)
        {
            if (_hostRead[slot]) buffer.Add(SlotMetrics[slot], _host[slot]);
            else if (_hostExpected[slot]) buffer.AddStale(SlotMetrics[slot]);
        }
    }

    private void SampleGpu(NvmlLibrary nvml, Gpu gpu, MetricBuffer buffer)
    {
        if (gpu.Handle == 0 && !TryResolve(gpu, out var failedCall, out var failure))
        {
            for (var slot = 0; slot < GpuThrottled; slot++) Stale(buffer, gpu, slot);
            if (nvml.DeviceGetCurrentClocksEventReasons != null)
            {
                Stale(buffer, gpu, GpuThrottled);
                Stale(buffer, gpu, GpuThrottleReasons);
            }
            if (_eventsSupported && gpu.Xid != XidState.NotSupported) Stale(buffer, gpu, GpuXidErrors);
            NoteHealth(gpu, failedCall, failure);
            return;
        }

        var h = gpu.Handle;
        string? call = null;
        var error = NvmlReturn.Success;

        var rc = ReadMemory(nvml, h, out var used, out var total);
        if (rc == NvmlReturn.Success && total > 0) Report(buffer, gpu, VramUtil, (double)used / total);
        else Fail(buffer, gpu, VramUtil, "nvmlDeviceGetMemoryInfo", rc, ref call, ref error);

        NvmlUtilization utilisation;
        rc = nvml.DeviceGetUtilizationRates(h, &utilisation);
        if (rc == NvmlReturn.Success)
        {
            Report(buffer, gpu, GpuUtil, utilisation.Gpu / 100.0);
            Report(buffer, gpu, GpuMemUtil, utilisation.Memory / 100.0);
        }
        else
        {
            Fail(buffer, gpu, GpuUtil, "nvmlDeviceGetUtilizationRates", rc, ref call, ref error);
            Stale(buffer, gpu, GpuMemUtil);
        }

        uint usageMw, limitMw = 0;
        rc = nvml.DeviceGetPowerUsage(h, &usageMw);
        var powerCall = "nvmlDeviceGetPowerUsage";
        if (rc == NvmlReturn.Success)
        {
            rc = nvml.DeviceGetEnforcedPowerLimit(h, &limitMw);
            powerCall = "nvmlDeviceGetEnforcedPowerLimit";
        }
        if (rc == NvmlReturn.Success && limitMw > 0) Report(buffer, gpu, GpuPowerUtil, (double)usageMw / limitMw);
        else Fail(buffer, gpu, GpuPowerUtil, powerCall, rc, ref call, ref error);

        uint celsius;
        rc = nvml.DeviceGetTemperature(h, NvmlConstants.TemperatureGpu, &celsius);
        if (rc == NvmlReturn.Success) Report(buffer, gpu, GpuTempC, celsius);
        else Fail(buffer, gpu, GpuTempC, "nvmlDeviceGetTemperature", rc, ref call, ref error);

        if (nvml.DeviceGetCurrentClocksEventReasons != null)
        {
            ulong reasons;
            rc = nvml.DeviceGetCurrentClocksEventReasons(h, &reasons);
            if (rc == NvmlReturn.Success)
            {
                Report(buffer, gpu, GpuThrottled, (reasons & NvmlConstants.ClocksEventReasonsThrottling) != 0 ? 1 : 0);
                Report(buffer, gpu, GpuThrottleReasons, reasons);
            }
            else
            {
                Fail(buffer, gpu, GpuThrottled, "nvmlDeviceGetCurrentClocksEventReasons", rc, ref call, ref error);
                Stale(buffer, gpu, GpuThrottleReasons);
            }
        }

        // The count lives here, not in NVML: it survives a re-created event set and never reads lower than before.
        if (_eventsSupported && gpu.Xid != XidState.NotSupported)
        {
            var fresh = _eventSet != 0 && gpu.Xid == XidState.Registered;
            if (fresh) Report(buffer, gpu, GpuXidErrors, gpu.XidCount);
            else Stale(buffer, gpu, GpuXidErrors);
            ReportApplicationXids(buffer, gpu, fresh);
        }

        NoteHealth(gpu, call, error);
    }

    /// <summary>Each application XID seen on the GPU, under its own series; never part of the host series.</summary>
    private static void ReportApplicationXids(MetricBuffer buffer, Gpu gpu, bool fresh)
    {
        for (var i = 0; i < gpu.AppXidCounts.Length; i++)
        {
            if (gpu.AppXidCounts[i] == 0) continue;
            if (fresh) buffer.Add(gpu.AppXidSeries[i], gpu.AppXidCounts[i]);
            else buffer.AddStale(gpu.AppXidSeries[i]);
        }
    }

    private int ReadMemory(NvmlLibrary nvml, nint device, out ulong used, out ulong total)
    {
        int rc;
        if (_useMemoryV2)
        {
            var v2 = new NvmlMemoryV2 { Version = NvmlMemoryV2.StructVersion };
            rc = nvml.DeviceGetMemoryInfoV2(device, &v2);
            if (rc == NvmlReturn.Success)
            {
                used = v2.Used;
                total = v2.Total;
                return rc;
            }
            if (rc is not (NvmlReturn.NotSupported or NvmlReturn.FunctionNotFound or NvmlReturn.ArgumentVersionMismatch))
            {
                used = total = 0;
                return rc;
            }
            // The export exists but this driver does not serve the v2 struct: v1 for good.
            _useMemoryV2 = false;
            Log($"NVML: nvmlDeviceGetMemoryInfo_v2 answered {NvmlReturn.Describe(rc)}; using nvmlDeviceGetMemoryInfo (v1), " +
                "whose used memory includes the driver's reservation.");
        }

        NvmlMemory v1;
        rc = nvml.DeviceGetMemoryInfo(device, &v1);
        used = v1.Used;
        total = v1.Total;
        return rc;
    }

    /// <summary>Creates the event set when there is none, registers devices that are not yet, and drains pending XIDs.</summary>
    private void PollEvents()
    {
        var nvml = _nvml;
        if (nvml is null || !_eventsSupported) return;

        int rc;
        if (_eventSet == 0)
        {
            nint set;
            rc = nvml.EventSetCreate(&set);
            if (rc == NvmlReturn.NotSupported)
            {
                _eventsSupported = false;
                Log("NVML: the driver does not support event sets; gpu_xid_errors is not reported.");
                return;
            }
            if (rc != NvmlReturn.Success)
            {
                NoteEventSetFailure("nvmlEventSetCreate", rc);
                return;
            }
            _eventSet = set;
            foreach (var gpu in _gpus)
                if (gpu.Xid == XidState.Registered) gpu.Xid = XidState.Unregistered;
        }

        foreach (var gpu in _gpus)
        {
            if (gpu.Xid != XidState.Unregistered || gpu.Handle == 0) continue;
            rc = nvml.DeviceRegisterEvents(gpu.Handle, NvmlConstants.EventTypeXidCriticalError, _eventSet);
            if (rc == NvmlReturn.Success) gpu.Xid = XidState.Registered;
            else if (rc == NvmlReturn.NotSupported)
            {
                gpu.Xid = XidState.NotSupported;
                Log($"NVML: GPU {gpu.Index} does not report XID events; {gpu.Series[GpuXidErrors]} is not reported.");
            }
            // Any other failure: stays unregistered, its count reads stale, and registration is retried next sample.
        }

        for (var n = 0; n < MaxEventsPerSample; n++)
        {
            NvmlEventData data;
            rc = nvml.EventSetWait(_eventSet, &data, 0);
            if (rc == NvmlReturn.Timeout) break;
            if (rc != NvmlReturn.Success)
            {
                // A broken set is freed and re-created next sample; counts so far are kept, events in between are lost
                // and the counts read stale until the new set is registered.
                nvml.EventSetFree(_eventSet);
                _eventSet = 0;
                foreach (var gpu in _gpus)
                    if (gpu.Xid == XidState.Registered) gpu.Xid = XidState.Unregistered;
                NoteEventSetFailure("nvmlEventSetWait_v2", rc);
                return;
            }
            if ((data.EventType & NvmlConstants.EventTypeXidCriticalError) == 0) continue;
            foreach (var gpu in _gpus)
            {
                if (gpu.Handle != data.Device) continue;
                var app = XidCatalog.ApplicationIndex(data.EventData);
                if (app >= 0) gpu.AppXidCounts[app]++; // a user's program failed, not the GPU
                else gpu.XidCount++;
                break;
            }
        }

        if (_eventSetFailure != 0)
        {
            _eventSetFailure = 0;
            Log("NVML: the XID event set works again; XID counts continue from where they were.");
        }
    }

    private void NoteEventSetFailure(string call, int rc)
    {
        if (_eventSetFailure != 0) return;
        _eventSetFailure = rc;
        Log($"NVML: {call} failed with {NvmlReturn.Describe(rc)}; XID counts hold and read stale until the event set " +
            "is re-created (retried every sample).");
    }

    private bool TryResolve(Gpu gpu, out string? failedCall, out int failure)
    {
        var nvml = _nvml!;
        nint handle;
        var rc = nvml.DeviceGetHandleByIndex((uint)gpu.Index, &handle);
        if (rc != NvmlReturn.Success) return Failed("nvmlDeviceGetHandleByIndex_v2", rc, out failedCall, out failure);

        var text = stackalloc byte[NvmlConstants.StringBufferSize];
        rc = nvml.DeviceGetUuid(handle, text, NvmlConstants.StringBufferSize);
        if (rc != NvmlReturn.Success) return Failed("nvmlDeviceGetUUID", rc, out failedCall, out failure);
        var uuid = Marshal.PtrToStringUTF8((nint)text) ?? "";

        rc = nvml.DeviceGetName(handle, text, NvmlConstants.StringBufferSize);
        if (rc != NvmlReturn.Success) return Failed("nvmlDeviceGetName", rc, out failedCall, out failure);

        gpu.Name = Marshal.PtrToStringUTF8((nint)text) ?? "";
        gpu.Uuid = uuid;
        gpu.Handle = handle;
        failedCall = null;
        failure = NvmlReturn.Success;
        return true;

        static bool Failed(string call, int rc, out string? failedCall, out int failure)
        {
            failedCall = call;
            failure = rc;
            return false;
        }
    }

    private void Report(MetricBuffer buffer, Gpu gpu, int slot, double value)
    {
        buffer.Add(gpu.Series[slot], value);
        _hostExpected[slot] = true;
        if (!_hostRead[slot]) _host[slot] = value;
        else if (slot == GpuThrottleReasons) _host[slot] = (ulong)_host[slot] | (ulong)value; // any GPU's reasons
        else _host[slot] = Math.Max(_host[slot], value);
        _hostRead[slot] = true;
    }

    private void Stale(MetricBuffer buffer, Gpu gpu, int slot)
    {
        buffer.AddStale(gpu.Series[slot]);
        _hostExpected[slot] = true;
    }

    private void Fail(MetricBuffer buffer, Gpu gpu, int slot, string call, int rc, ref string? firstCall, ref int firstError)
    {
        Stale(buffer, gpu, slot);
        // A zero total or limit comes back as success: it is a reading that cannot be used, not a device failure.
        if (rc == NvmlReturn.Success || firstError != NvmlReturn.Success) return;
        firstCall = call;
        firstError = rc;
    }

    /// <summary>Logs when a device starts failing and when it answers again, never once per sample.</summary>
    private void NoteHealth(Gpu gpu, string? call, int error)
    {
        if (error != NvmlReturn.Success && gpu.Failure == NvmlReturn.Success)
        {
            gpu.Failure = error;
            Log($"NVML: GPU {gpu.Index} {gpu.Uuid}: {call} failed with {NvmlReturn.Describe(error)}; its series read stale " +
                "until it answers (retried every sample).");
        }
        else if (error == NvmlReturn.Success && gpu.Failure != NvmlReturn.Success)
        {
            gpu.Failure = NvmlReturn.Success;
            Log($"NVML: GPU {gpu.Index} {gpu.Uuid} answers again.");
        }
    }

    private void Log(string line) => _log?.Invoke(line);

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();

    /// <summary>Frees the event set, shuts NVML down and unloads the library.</summary>
    public void Dispose()
    {
        var nvml = _nvml;
        if (nvml is null) return;
        _nvml = null;
        if (_eventSet != 0)
        {
            nvml.EventSetFree(_eventSet);
            _eventSet = 0;
        }
        nvml.Shutdown();
        nvml.Dispose();
    }

    private enum XidState { Unregistered, Registered, NotSupported }

    /// <summary>One GPU's handle, cached series names and XID count.</summary>
    private sealed class Gpu
    {
        public Gpu(int index)
        {
            Index = index;
            var label = index.ToString(CultureInfo.InvariantCulture);
            Series = new string[SlotCount];
            for (var slot = 0; slot < SlotCount; slot++)
                Series[slot] = MetricNames.Labelled(SlotMetrics[slot], MetricNames.GpuLabel, label);
            var xids = XidCatalog.ApplicationXids;
            AppXidCounts = new long[xids.Length];
            AppXidSeries = new string[xids.Length];
            for (var i = 0; i < xids.Length; i++)
                AppXidSeries[i] = MetricNames.Labelled(MetricNames.GpuXidAppErrors, MetricNames.GpuLabel, label,
                    MetricNames.XidLabel, xids[i].ToString(CultureInfo.InvariantCulture));
        }

        public int Index { get; }
        public string[] Series { get; }
        public nint Handle { get; set; }
        public string Uuid { get; set; } = "";
        public string Name { get; set; } = "";
        public XidState Xid { get; set; }
        public long XidCount { get; set; }
        public long[] AppXidCounts { get; }
        public string[] AppXidSeries { get; }
        public int Failure { get; set; }
    }
}
