using System.Runtime.InteropServices;

namespace Scarcity.Actors.Sensing.Nvml;

/// <summary>
/// The NVML entry points the sensor calls, bound by <see cref="NativeLibrary.GetExport"/> into unmanaged function
/// pointers, so one code path serves the real driver and a fake library at any path. Exports an older driver may lack
/// are null pointers here.
/// </summary>
internal sealed unsafe class NvmlLibrary : IDisposable
{
    private nint _handle;

    public readonly delegate* unmanaged[Cdecl]<int> Init;
    public readonly delegate* unmanaged[Cdecl]<int> Shutdown;
    public readonly delegate* unmanaged[Cdecl]<uint*, int> DeviceGetCount;
    public readonly delegate* unmanaged[Cdecl]<uint, nint*, int> DeviceGetHandleByIndex;
    public readonly delegate* unmanaged[Cdecl]<nint, byte*, uint, int> DeviceGetUuid;
    public readonly delegate* unmanaged[Cdecl]<nint, byte*, uint, int> DeviceGetName;
    public readonly delegate* unmanaged[Cdecl]<nint, NvmlUtilization*, int> DeviceGetUtilizationRates;
    public readonly delegate* unmanaged[Cdecl]<nint, NvmlMemory*, int> DeviceGetMemoryInfo;
    public readonly delegate* unmanaged[Cdecl]<nint, uint*, int> DeviceGetPowerUsage;
    public readonly delegate* unmanaged[Cdecl]<nint, uint*, int> DeviceGetEnforcedPowerLimit;
    public readonly delegate* unmanaged[Cdecl]<nint, int, uint*, int> DeviceGetTemperature;

    /// <summary>r510 and later; null before.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, NvmlMemoryV2*, int> DeviceGetMemoryInfoV2;
    /// <summary><c>nvmlDeviceGetCurrentClocksEventReasons</c> (r535+), else the older ...ThrottleReasons; null if neither.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, ulong*, int> DeviceGetCurrentClocksEventReasons;
    /// <summary>The event API, all four or none.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint*, int> EventSetCreate;
    public readonly delegate* unmanaged[Cdecl]<nint, ulong, nint, int> DeviceRegisterEvents;
    public readonly delegate* unmanaged[Cdecl]<nint, NvmlEventData*, uint, int> EventSetWait;
    public readonly delegate* unmanaged[Cdecl]<nint, int> EventSetFree;

    /// <summary>
    /// Loads the library and binds its exports. Throws <see cref="DllNotFoundException"/> or
    /// <see cref="BadImageFormatException"/> when it cannot be loaded, <see cref="EntryPointNotFoundException"/> when
    /// a required export is missing (the library is not NVML, or too old).
    /// </summary>
    public NvmlLibrary(string path)
    {
        _handle = NativeLibrary.Load(path);
        try
        {
            Init = (delegate* unmanaged[Cdecl]<int>)Required("nvmlInit_v2");
            Shutdown = (delegate* unmanaged[Cdecl]<int>)Required("nvmlShutdown");
            DeviceGetCount = (delegate* unmanaged[Cdecl]<uint*, int>)Required("nvmlDeviceGetCount_v2");
            DeviceGetHandleByIndex = (delegate* unmanaged[Cdecl]<uint, nint*, int>)Required("nvmlDeviceGetHandleByIndex_v2");
            DeviceGetUuid = (delegate* unmanaged[Cdecl]<nint, byte*, uint, int>)Required("nvmlDeviceGetUUID");
            DeviceGetName = (delegate* unmanaged[Cdecl]<nint, byte*, uint, int>)Required("nvmlDeviceGetName");
            DeviceGetUtilizationRates =
                (delegate* unmanaged[Cdecl]<nint, NvmlUtilization*, int>)Required("nvmlDeviceGetUtilizationRates");
            DeviceGetMemoryInfo = (delegate* unmanaged[Cdecl]<nint, NvmlMemory*, int>)Required("nvmlDeviceGetMemoryInfo");
            DeviceGetPowerUsage = (delegate* unmanaged[Cdecl]<nint, uint*, int>)Required("nvmlDeviceGetPowerUsage");
            DeviceGetEnforcedPowerLimit =
                (delegate* unmanaged[Cdecl]<nint, uint*, int>)Required("nvmlDeviceGetEnforcedPowerLimit");
            DeviceGetTemperature = (delegate* unmanaged[Cdecl]<nint, int, uint*, int>)Required("nvmlDeviceGetTemperature");

            DeviceGetMemoryInfoV2 =
                (delegate* unmanaged[Cdecl]<nint, NvmlMemoryV2*, int>)Optional("nvmlDeviceGetMemoryInfo_v2");
            var reasons = Optional("nvmlDeviceGetCurrentClocksEventReasons");
            if (reasons == 0) reasons = Optional("nvmlDeviceGetCurrentClocksThrottleReasons");
            DeviceGetCurrentClocksEventReasons = (delegate* unmanaged[Cdecl]<nint, ulong*, int>)reasons;

            nint create = Optional("nvmlEventSetCreate"), register = Optional("nvmlDeviceRegisterEvents"),
                wait = Optional("nvmlEventSetWait_v2"), free = Optional("nvmlEventSetFree");
            if (create != 0 && register != 0 && wait != 0 && free != 0)
            {
                EventSetCreate = (delegate* unmanaged[Cdecl]<nint*, int>)create;
                DeviceRegisterEvents = (delegate* unmanaged[Cdecl]<nint, ulong, nint, int>)register;
                EventSetWait = (delegate* unmanaged[Cdecl]<nint, NvmlEventData*, uint, int>)wait;
                EventSetFree = (delegate* unmanaged[Cdecl]<nint, int>)free;
            }
        }
        catch
        {
            NativeLibrary.Free(_handle);
            _handle = 0;
            throw;
        }
    }

    public bool HasEvents => EventSetCreate != null;

    private nint Required(string name) => NativeLibrary.GetExport(_handle, name);

    private nint Optional(string name) => NativeLibrary.TryGetExport(_handle, name, out var address) ? address : 0;

    /// <summary>Unloads the library (the caller has shut NVML down first).</summary>
    public void Dispose()
    {
        if (_handle == 0) return;
        NativeLibrary.Free(_handle);
        _handle = 0;
    }
}
