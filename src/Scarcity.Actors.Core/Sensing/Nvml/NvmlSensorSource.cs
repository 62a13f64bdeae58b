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
/// metrics skip as missing rather than read zero; a driver that is not ready yet is initialised again with backoff.
/// Per GPU and per query, an answer that describes a capability (NOT_SUPPORTED: utilisation on a MIG GPU) drops that
/// query for that GPU, said once; any other failure turns that query's series stale and retries it with backoff on the
/// sample timestamps. The host series are computed over the devices that answered. Sampling allocates nothing in
/// steady state: series names are built once per device, native structs live on the stack, and XID events are drained
/// with a zero timeout. A call that hangs in the driver is the caller's to isolate (<see cref="CompositeSensorSource"/>);
/// <see cref="PendingCall"/> names it.
/// </remarks>
public sealed unsafe class NvmlSensorSource : IPendingCallSource
{
    // Slots of the per-GPU series, in the order a sample reports them.
    private const int VramUtil = 0, GpuUtil = 1, GpuMemUtil = 2, GpuPowerUtil = 3, GpuPowerW = 4, GpuTempC = 5, GpuThrottled = 6,
        GpuThrottleReasons = 7, GpuXidErrors = 8, SlotCount = 9;

    private static readonly string[] SlotMetrics =
    [
        MetricNames.VramUtil, MetricNames.GpuUtil, MetricNames.GpuMemUtil, MetricNames.GpuPowerUtil, MetricNames.GpuPowerW,
        MetricNames.GpuTempC, MetricNames.GpuThrottled, MetricNames.GpuThrottleReasons, MetricNames.GpuXidErrors,
    ];

    // The queries a sample makes of each GPU. Each is dropped for a GPU that cannot answer it (a capability), or backed
    // off while it fails (a fault), on its own: a MIG GPU without utilisation still reports its memory.
    private const int QueryMemory = 0, QueryUtilisation = 1, QueryPower = 2, QueryTemperature = 3, QueryClockReasons = 4,
        QueryCount = 5;

    // The series of each query: [first slot, slot count).
    private static readonly (int First, int Count)[] QuerySlots =
        [(VramUtil, 1), (GpuUtil, 2), (GpuPowerUtil, 2), (GpuTempC, 1), (GpuThrottled, 2)];

    // The NVML calls a sample makes of each GPU; each GPU keeps "<call> on GPU i" for PendingCall, built once.
    private const int CallMemoryV2 = 0, CallMemory = 1, CallUtilisation = 2, CallPower = 3, CallPowerLimit = 4,
        CallTemperature = 5, CallClockReasons = 6, CallHandle = 7, CallUuid = 8, CallName = 9, CallRegister = 10,
        CallCount = 11;

    private static readonly string[] CallNames =
    [
        "nvmlDeviceGetMemoryInfo_v2", "nvmlDeviceGetMemoryInfo", "nvmlDeviceGetUtilizationRates", "nvmlDeviceGetPowerUsage",
        "nvmlDeviceGetEnforcedPowerLimit", "nvmlDeviceGetTemperature", "nvmlDeviceGetCurrentClocksEventReasons",
        "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetUUID", "nvmlDeviceGetName", "nvmlDeviceRegisterEvents",
    ];

    // Bounds the events drained per sample, so a storm of XIDs cannot stall sampling; the rest wait for the next one.
    private const int MaxEventsPerSample = 256;

    // How often a library that is not installed is looked for again: a driver installed after the governor started is
    // picked up without a restart, and a load that fails costs microseconds.
    private static readonly TimeSpan LibraryRetry = TimeSpan.FromMinutes(5);

    private readonly Action<string>? _log;
    private readonly string _libraryPath;
    private readonly double[] _host = new double[SlotCount];
    private readonly bool[] _hostRead = new bool[SlotCount];
    private readonly bool[] _hostExpected = new bool[SlotCount];
    private Startup _startup;
    private NvmlLibrary? _library; // loaded; not necessarily initialised
    private NvmlLibrary? _nvml;    // initialised, with GPUs: the source reads
    private RetryBackoff _load;
    private RetryBackoff _init;
    private int _initAttempts;
    private Gpu[] _gpus = [];
    private bool _useMemoryV2;
    private bool _eventsSupported;
    private nint _eventSet;
    private RetryBackoff _eventSetCreate;
    private int _eventSetFailure;
    private volatile string? _pendingCall;

    /// <summary>
    /// Loads NVML and enumerates the GPUs. Never throws for a missing driver or library: the source then reports no
    /// GPU series and <see cref="IsAvailable"/> is false. A driver that is not ready yet is initialised again by later
    /// samples, with backoff; a library that is not installed is looked for again every 5 minutes.
    /// </summary>
    /// <param name="options">Validated here; an unusable option throws <see cref="DRGConfigException"/> naming it.</param>
    /// <param name="log">Receives one line per state change (start, driver absent, device failing or back); may be null.</param>
    public NvmlSensorSource(NvmlConfig options, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.EnsureValid(NvmlConfig.Section);
        _log = log;
        _libraryPath = options.LibraryPath;

        if (!options.Enabled)
        {
            Log($"NVML: GPU sensing is off ({NvmlConfig.Section}:{nameof(NvmlConfig.Enabled)} = false); no GPU metrics.");
            return;
        }

        // At construction there is no sample timestamp: a failure here is retried by the first sample.
        if (TryLoad(null)) TryInit(null);
        _pendingCall = null;
    }

    /// <summary>Where the source stands before it can read GPUs.</summary>
    private enum Startup
    {
        /// <summary>Turned off, disposed, or the library is not NVML: nothing is tried again.</summary>
        Off,
        /// <summary>The library is not installed: looked for again every <see cref="LibraryRetry"/>.</summary>
        LibraryMissing,
        /// <summary>Loaded, but <c>nvmlInit_v2</c> fails (the driver is not loaded yet): retried with backoff.</summary>
        DriverNotReady,
        /// <summary>The driver reports no GPU.</summary>
        NoGpu,
        /// <summary>Reading GPUs.</summary>
        Ready,
    }

    private bool TryLoad(DateTimeOffset? now)
    {
        try
        {
            _library = new NvmlLibrary(_libraryPath);
        }
        catch (Exception e) when (e is BadImageFormatException or EntryPointNotFoundException)
        {
            _startup = Startup.Off;
            var what = e is EntryPointNotFoundException ? "is not a usable NVML library" : "cannot be loaded";
            Log($"NVML unavailable: '{_libraryPath}' {what} ({OneLine(e.Message)}); no GPU metrics, the rest of the " +
                "governor runs.");
            return false;
        }
        catch (DllNotFoundException e)
        {
            if (now is { } failedAt) _load.Failed(failedAt, LibraryRetry, LibraryRetry);
            if (_startup == Startup.LibraryMissing) return false;
            _startup = Startup.LibraryMissing;
            Log($"NVML unavailable: '{_libraryPath}' cannot be loaded ({OneLine(e.Message)}); no GPU metrics, the rest of " +
                $"the governor runs. Looked for again every {LibraryRetry.TotalMinutes:0} minutes, so a driver installed " +
                "later is picked up without a restart.");
            return false;
        }
        if (_startup == Startup.LibraryMissing) Log($"NVML: '{_libraryPath}' can be loaded now.");
        return true;
    }

    /// <summary>Initialises NVML and enumerates the GPUs; a driver that is not ready is tried again with backoff.</summary>
    private void TryInit(DateTimeOffset? now)
    {
        var nvml = _library!;
        _initAttempts++;
        var call = _pendingCall = "nvmlInit_v2";
        var rc = nvml.Init();
        if (rc == NvmlReturn.Success)
        {
            uint count;
            _pendingCall = "nvmlDeviceGetCount_v2";
            rc = nvml.DeviceGetCount(&count);
            if (rc == NvmlReturn.Success && count == 0)
            {
                Log($"NVML: the driver in '{_libraryPath}' reports no GPU; no GPU metrics.");
                nvml.Shutdown();
                nvml.Dispose();
                _library = null;
                _startup = Startup.NoGpu;
                return;
            }
            if (rc == NvmlReturn.Success)
            {
                Start(nvml, count);
                return;
            }
            call = "nvmlDeviceGetCount_v2";
            nvml.Shutdown();
        }

        if (now is { } failedAt) _init.Failed(failedAt);
        if (_startup == Startup.DriverNotReady) return;
        _startup = Startup.DriverNotReady;
        var why = rc == NvmlReturn.DriverNotLoaded ? "the NVIDIA driver is not loaded yet" : "NVML cannot start yet";
        Log($"NVML unavailable for now: {why} ({call} in '{_libraryPath}' answered {NvmlReturn.Describe(rc)}); no GPU " +
            "metrics until it starts. Initialisation is retried with backoff (1 s doubling to 60 s), so the GPU series " +
            "appear without a restart; the rest of the governor runs.");
    }

    private void Start(NvmlLibrary nvml, uint count)
    {
        _useMemoryV2 = nvml.DeviceGetMemoryInfoV2 != null;
        _eventsSupported = nvml.HasEvents;
        var gpus = new Gpu[count];
        for (var i = 0; i < gpus.Length; i++)
            gpus[i] = new Gpu(i, hasClockReasons: nvml.DeviceGetCurrentClocksEventReasons != null);
        _gpus = gpus;
        Volatile.Write(ref _nvml, nvml);
        _startup = Startup.Ready;
        foreach (var gpu in gpus)
        {
            // A GPU that does not answer yet is looked up again by the next sample.
            if (!Resolve(gpu, out var call, out var error) && IsCapability(error)) Drop(gpu, call!, error);
        }
        PollEvents(null);

        var names = new StringBuilder();
        foreach (var gpu in gpus)
            names.Append(names.Length == 0 ? "" : ", ").Append(gpu.Index).Append(' ')
                .Append(gpu.Dropped ? "(cannot be read)" : gpu.Handle == 0 ? "(not answering yet)" : $"{gpu.Name} {gpu.Uuid}");
        Log($"NVML: {count} GPU(s) from '{_libraryPath}': {names}" +
            (_useMemoryV2 ? "" : "; memory through nvmlDeviceGetMemoryInfo (v1)") +
            (_eventsSupported ? "" : "; no XID event API, gpu_xid_errors not reported") +
            (_initAttempts > 1 ? $"; initialised at attempt {_initAttempts}" : "") + ".");
    }

    /// <summary>Loads or initialises NVML again when its retry is due; the library once it reads GPUs.</summary>
    private NvmlLibrary? Restart(DateTimeOffset now)
    {
        switch (_startup)
        {
            case Startup.LibraryMissing:
                if (!_load.IsDue(now) || !TryLoad(now)) return null;
                TryInit(now);
                break;
            case Startup.DriverNotReady:
                if (_init.IsDue(now)) TryInit(now);
                break;
        }
        return _nvml;
    }

    /// <inheritdoc />
    public string Name => "nvml";

    /// <summary>True when NVML loaded and found at least one GPU; false means the source reports nothing.</summary>
    public bool IsAvailable => _nvml is not null;

    /// <inheritdoc />
    public string? PendingCall => _pendingCall;

    /// <summary>The GPUs that have answered so far, by index.</summary>
    public IReadOnlyList<NvmlDevice> Devices =>
        _gpus.Where(g => g.Handle != 0).Select(g => new NvmlDevice(g.Index, g.Uuid, g.Name)).ToArray();

    /// <inheritdoc />
    public void Sample(MetricBuffer buffer, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        var nvml = _nvml ?? Restart(now);
        if (nvml is null)
        {
            _pendingCall = null;
            return;
        }

        Array.Clear(_hostRead);
        Array.Clear(_hostExpected);
        Array.Clear(_host);

        PollEvents(now);
        foreach (var gpu in _gpus)
            SampleGpu(nvml, gpu, buffer, now);

        _pendingCall = null;
        for (var slot = 0; slot < SlotCount; slot++)
        {
            if (_hostRead[slot]) buffer.Add(SlotMetrics[slot], _host[slot]);
            else if (_hostExpected[slot]) buffer.AddStale(SlotMetrics[slot]);
        }
    }

    private void SampleGpu(NvmlLibrary nvml, Gpu gpu, MetricBuffer buffer, DateTimeOffset now)
    {
        if (gpu.Dropped) return;
        string? call = null;
        var error = NvmlReturn.Success;

        if (gpu.Handle == 0)
        {
            if (gpu.Resolution.IsDue(now))
            {
                if (!Resolve(gpu, out call, out error))
                {
                    if (IsCapability(error))
                    {
                        Drop(gpu, call!, error);
                        return;
                    }
                    gpu.Resolution.Failed(now);
                }
                else gpu.Resolution.Succeeded();
            }
            if (gpu.Handle == 0)
            {
                for (var q = 0; q < QueryCount; q++)
                    if (!gpu.Queries[q].Dropped) StaleQuery(buffer, gpu, q);
                if (_eventsSupported && gpu.Xid != XidState.NotSupported) Stale(buffer, gpu, GpuXidErrors);
                NoteHealth(gpu, call, error);
                return;
            }
        }

        var h = gpu.Handle;
        int rc;

        if (Begin(buffer, gpu, QueryMemory, now))
        {
            rc = ReadMemory(nvml, gpu, out var used, out var total, out var memoryCall);
            if (rc != NvmlReturn.Success) Failed(buffer, gpu, QueryMemory, memoryCall, rc, now, ref call, ref error);
            else if (total > 0) Answered(buffer, gpu, QueryMemory, (double)used / total);
            else Unusable(buffer, gpu, QueryMemory); // a zero total is a reading that cannot be used, not a failure
        }

        if (Begin(buffer, gpu, QueryUtilisation, now))
        {
            NvmlUtilization utilisation;
            _pendingCall = gpu.Calls[CallUtilisation];
            rc = nvml.DeviceGetUtilizationRates(h, &utilisation);
            if (rc != NvmlReturn.Success)
                Failed(buffer, gpu, QueryUtilisation, CallNames[CallUtilisation], rc, now, ref call, ref error);
            else Answered(buffer, gpu, QueryUtilisation, utilisation.Gpu / 100.0, utilisation.Memory / 100.0);
        }

        if (Begin(buffer, gpu, QueryPower, now))
        {
            uint usageMw, limitMw = 0;
            var powerCall = CallPower;
            _pendingCall = gpu.Calls[powerCall];
            rc = nvml.DeviceGetPowerUsage(h, &usageMw);
            if (rc == NvmlReturn.Success)
            {
                powerCall = CallPowerLimit;
                _pendingCall = gpu.Calls[powerCall];
                rc = nvml.DeviceGetEnforcedPowerLimit(h, &limitMw);
            }
            if (rc != NvmlReturn.Success) Failed(buffer, gpu, QueryPower, CallNames[powerCall], rc, now, ref call, ref error);
            else if (limitMw > 0) Answered(buffer, gpu, QueryPower, (double)usageMw / limitMw, usageMw / 1000.0);
            else
            {
                // No limit to divide by: the fraction is not a reading, the draw in watts still is.
                gpu.Queries[QueryPower].Retry.Succeeded();
                Stale(buffer, gpu, GpuPowerUtil);
                Report(buffer, gpu, GpuPowerW, usageMw / 1000.0);
            }
        }

        if (Begin(buffer, gpu, QueryTemperature, now))
        {
            uint celsius;
            _pendingCall = gpu.Calls[CallTemperature];
            rc = nvml.DeviceGetTemperature(h, NvmlConstants.TemperatureGpu, &celsius);
            if (rc != NvmlReturn.Success)
                Failed(buffer, gpu, QueryTemperature, CallNames[CallTemperature], rc, now, ref call, ref error);
            else Answered(buffer, gpu, QueryTemperature, celsius);
        }

        if (Begin(buffer, gpu, QueryClockReasons, now))
        {
            ulong reasons;
            _pendingCall = gpu.Calls[CallClockReasons];
            rc = nvml.DeviceGetCurrentClocksEventReasons(h, &reasons);
            if (rc != NvmlReturn.Success)
                Failed(buffer, gpu, QueryClockReasons, CallNames[CallClockReasons], rc, now, ref call, ref error);
            else
                Answered(buffer, gpu, QueryClockReasons,
                    (reasons & NvmlConstants.ClocksEventReasonsThrottling) != 0 ? 1 : 0, reasons);
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

    /// <summary>
    /// True when the query should be made now. False for a query the GPU cannot answer (its series are absent) and for
    /// one backing off after a failure (its series read stale without a call).
    /// </summary>
    private bool Begin(MetricBuffer buffer, Gpu gpu, int query, DateTimeOffset now)
    {
        ref var state = ref gpu.Queries[query];
        if (state.Dropped) return false;
        if (state.Retry.IsDue(now)) return true;
        StaleQuery(buffer, gpu, query);
        return false;
    }

    private void Answered(MetricBuffer buffer, Gpu gpu, int query, double value, double second = 0)
    {
        gpu.Queries[query].Retry.Succeeded();
        var (first, count) = QuerySlots[query];
        Report(buffer, gpu, first, value);
        if (count > 1) Report(buffer, gpu, first + 1, second);
    }

    private void Unusable(MetricBuffer buffer, Gpu gpu, int query)
    {
        gpu.Queries[query].Retry.Succeeded();
        StaleQuery(buffer, gpu, query);
    }

    /// <summary>
    /// A query that failed. A capability the GPU lacks drops the query for that GPU, said once; anything else is a fault:
    /// its series read stale and the query is retried with backoff.
    /// </summary>
    private void Failed(MetricBuffer buffer, Gpu gpu, int query, string call, int rc, DateTimeOffset now,
        ref string? firstCall, ref int firstError)
    {
        ref var state = ref gpu.Queries[query];
        if (IsCapability(rc))
        {
            state.Dropped = true;
            state.Retry.Succeeded();
            var (first, count) = QuerySlots[query];
            var series = count == 1 ? gpu.Series[first] : $"{gpu.Series[first]} and {gpu.Series[first + 1]}";
            var hint = query == QueryUtilisation && rc == NvmlReturn.NotSupported ? ", as on a MIG-partitioned GPU" : "";
            Log($"NVML: GPU {gpu.Index} {gpu.Uuid}: {call} answers {NvmlReturn.Describe(rc)}{hint}; {series} " +
                "not reported for this GPU (a capability it lacks, not a failure: not asked again).");
            return;
        }
        state.Retry.Failed(now);
        StaleQuery(buffer, gpu, query);
        if (firstError != NvmlReturn.Success) return;
        firstCall = call;
        firstError = rc;
    }

    /// <summary>
    /// Return codes that describe what a GPU, its driver or this process's rights can do, not a passing state: asking
    /// again gives the same answer, so the query is dropped rather than retried.
    /// </summary>
    private static bool IsCapability(int rc) =>
        rc is NvmlReturn.NotSupported or NvmlReturn.NoPermission or NvmlReturn.FunctionNotFound or NvmlReturn.Deprecated;

    private void Drop(Gpu gpu, string call, int rc)
    {
        gpu.Dropped = true;
        Log($"NVML: GPU {gpu.Index}: {call} answers {NvmlReturn.Describe(rc)}; this GPU cannot be read and none of its " +
            "series is reported (not asked again).");
    }

    private void StaleQuery(MetricBuffer buffer, Gpu gpu, int query)
    {
        var (first, count) = QuerySlots[query];
        for (var slot = first; slot < first + count; slot++) Stale(buffer, gpu, slot);
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

    private int ReadMemory(NvmlLibrary nvml, Gpu gpu, out ulong used, out ulong total, out string call)
    {
        int rc;
        if (_useMemoryV2)
        {
            call = CallNames[CallMemoryV2];
            _pendingCall = gpu.Calls[CallMemoryV2];
            var v2 = new NvmlMemoryV2 { Version = NvmlMemoryV2.StructVersion };
            rc = nvml.DeviceGetMemoryInfoV2(gpu.Handle, &v2);
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
        call = CallNames[CallMemory];
        _pendingCall = gpu.Calls[CallMemory];
        rc = nvml.DeviceGetMemoryInfo(gpu.Handle, &v1);
        used = v1.Used;
        total = v1.Total;
        return rc;
    }

    /// <summary>
    /// Creates the event set when there is none, registers devices that are not yet, and drains pending XIDs. Failures
    /// are retried with backoff from <paramref name="now"/>; at construction (null) the first sample retries.
    /// </summary>
    private void PollEvents(DateTimeOffset? now)
    {
        var nvml = _nvml;
        if (nvml is null || !_eventsSupported) return;

        int rc;
        if (_eventSet == 0)
        {
            if (now is { } due && !_eventSetCreate.IsDue(due)) return;
            nint set;
            _pendingCall = "nvmlEventSetCreate";
            rc = nvml.EventSetCreate(&set);
            if (IsCapability(rc))
            {
                EventsUnsupported("nvmlEventSetCreate", rc);
                return;
            }
            if (rc != NvmlReturn.Success)
            {
                if (now is { } failedAt) _eventSetCreate.Failed(failedAt);
                NoteEventSetFailure("nvmlEventSetCreate", rc);
                return;
            }
            _eventSetCreate.Succeeded();
            _eventSet = set;
            foreach (var gpu in _gpus)
                if (gpu.Xid == XidState.Registered) gpu.Xid = XidState.Unregistered;
        }

        foreach (var gpu in _gpus)
        {
            if (gpu.Xid != XidState.Unregistered || gpu.Handle == 0) continue;
            if (now is { } due && !gpu.Registration.IsDue(due)) continue;
            _pendingCall = gpu.Calls[CallRegister];
            rc = nvml.DeviceRegisterEvents(gpu.Handle, NvmlConstants.EventTypeXidCriticalError, _eventSet);
            if (rc == NvmlReturn.Success)
            {
                gpu.Xid = XidState.Registered;
                gpu.Registration.Succeeded();
            }
            else if (IsCapability(rc))
            {
                gpu.Xid = XidState.NotSupported;
                Log($"NVML: GPU {gpu.Index} does not report XID events ({NvmlReturn.Describe(rc)}); " +
                    $"{gpu.Series[GpuXidErrors]} is not reported.");
            }
            // Any other failure: stays unregistered, its count reads stale, and registration is retried with backoff.
            else if (now is { } failedAt) gpu.Registration.Failed(failedAt);
        }

        _pendingCall = "nvmlEventSetWait_v2";
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
                if (IsCapability(rc)) EventsUnsupported("nvmlEventSetWait_v2", rc);
                else NoteEventSetFailure("nvmlEventSetWait_v2", rc);
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

    private void EventsUnsupported(string call, int rc)
    {
        _eventsSupported = false;
        Log($"NVML: {call} answers {NvmlReturn.Describe(rc)}: the driver does not support XID events; " +
            "gpu_xid_errors is not reported.");
    }

    private void NoteEventSetFailure(string call, int rc)
    {
        if (_eventSetFailure != 0) return;
        _eventSetFailure = rc;
        Log($"NVML: {call} failed with {NvmlReturn.Describe(rc)}; XID counts hold and read stale until the event set " +
            "is re-created (retried with backoff).");
    }

    /// <summary>Looks the GPU up; its UUID and name are labels for log lines, so one the GPU cannot give stays empty.</summary>
    private bool Resolve(Gpu gpu, out string? failedCall, out int failure)
    {
        var nvml = _nvml!;
        nint handle;
        _pendingCall = gpu.Calls[CallHandle];
        var rc = nvml.DeviceGetHandleByIndex((uint)gpu.Index, &handle);
        if (rc != NvmlReturn.Success) return Failed(CallNames[CallHandle], rc, out failedCall, out failure);

        var text = stackalloc byte[NvmlConstants.StringBufferSize];
        _pendingCall = gpu.Calls[CallUuid];
        rc = nvml.DeviceGetUuid(handle, text, NvmlConstants.StringBufferSize);
        if (rc != NvmlReturn.Success && !IsCapability(rc)) return Failed(CallNames[CallUuid], rc, out failedCall, out failure);
        var uuid = rc == NvmlReturn.Success ? Marshal.PtrToStringUTF8((nint)text) ?? "" : "";

        _pendingCall = gpu.Calls[CallName];
        rc = nvml.DeviceGetName(handle, text, NvmlConstants.StringBufferSize);
        if (rc != NvmlReturn.Success && !IsCapability(rc)) return Failed(CallNames[CallName], rc, out failedCall, out failure);

        gpu.Name = rc == NvmlReturn.Success ? Marshal.PtrToStringUTF8((nint)text) ?? "" : "";
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
        else if (slot == GpuPowerW) _host[slot] += value; // the host's GPU power: what a rack's power budget adds up
        else _host[slot] = Math.Max(_host[slot], value);
        _hostRead[slot] = true;
    }

    private void Stale(MetricBuffer buffer, Gpu gpu, int slot)
    {
        buffer.AddStale(gpu.Series[slot]);
        _hostExpected[slot] = true;
    }

    /// <summary>Logs when a device starts failing and when it answers again, never once per sample.</summary>
    private void NoteHealth(Gpu gpu, string? call, int error)
    {
        var failing = gpu.Resolution.Failures > 0;
        for (var q = 0; q < QueryCount && !failing; q++) failing = gpu.Queries[q].Retry.Failures > 0;

        if (failing && gpu.Failure == NvmlReturn.Success && error != NvmlReturn.Success)
        {
            gpu.Failure = error;
            Log($"NVML: GPU {gpu.Index} {gpu.Uuid}: {call} failed with {NvmlReturn.Describe(error)}; its series read stale " +
                "until it answers (retried with backoff, 1 s doubling to 60 s).");
        }
        else if (!failing && gpu.Failure != NvmlReturn.Success)
        {
            gpu.Failure = NvmlReturn.Success;
            Log($"NVML: GPU {gpu.Index} {gpu.Uuid} answers again.");
        }
    }

    private void Log(string line) => _log?.Invoke(line);

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();

    /// <summary>Frees the event set, shuts NVML down and unloads the library; nothing is tried again.</summary>
    public void Dispose()
    {
        _startup = Startup.Off;
        var library = _library;
        if (library is null) return;
        _library = null;
        var nvml = _nvml;
        _nvml = null;
        if (nvml is not null)
        {
            if (_eventSet != 0)
            {
                nvml.EventSetFree(_eventSet);
                _eventSet = 0;
            }
            nvml.Shutdown();
        }
        library.Dispose();
    }

    private enum XidState { Unregistered, Registered, NotSupported }

    /// <summary>One query of one GPU: dropped for good (a capability the GPU lacks), or when to retry it.</summary>
    private struct QueryState
    {
        public bool Dropped;
        public RetryBackoff Retry;
    }

    /// <summary>One GPU's handle, cached series names, query states and XID counts.</summary>
    private sealed class Gpu
    {
        /// <summary>When to look the GPU up again while it does not answer.</summary>
        public RetryBackoff Resolution;

        /// <summary>When to register the GPU for XID events again after a failed registration.</summary>
        public RetryBackoff Registration;

        public Gpu(int index, bool hasClockReasons)
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
            Calls = new string[CallCount];
            for (var call = 0; call < CallCount; call++) Calls[call] = $"{CallNames[call]} on GPU {label}";
            Queries = new QueryState[QueryCount];
            // A library without the clock-event export cannot answer it for any GPU.
            Queries[QueryClockReasons].Dropped = !hasClockReasons;
        }

        public int Index { get; }
        public string[] Series { get; }
        public string[] Calls { get; }
        public QueryState[] Queries { get; }
        public nint Handle { get; set; }
        public string Uuid { get; set; } = "";
        public string Name { get; set; } = "";
        public bool Dropped { get; set; }
        public XidState Xid { get; set; }
        public long XidCount { get; set; }
        public long[] AppXidCounts { get; }
        public string[] AppXidSeries { get; }
        public int Failure { get; set; }
    }
}
