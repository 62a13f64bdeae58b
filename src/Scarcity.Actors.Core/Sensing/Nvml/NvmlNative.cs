using System.Runtime.InteropServices;

namespace Scarcity.Actors.Sensing.Nvml;

/// <summary>NVML return codes the source acts on (nvml.h <c>nvmlReturn_t</c>).</summary>
internal static class NvmlReturn
{
    public const int Success = 0;
    public const int Uninitialized = 1;
    public const int InvalidArgument = 2;
    public const int NotSupported = 3;
    public const int NoPermission = 4;
    public const int NotFound = 6;
    public const int InsufficientSize = 7;
    public const int DriverNotLoaded = 9;
    public const int Timeout = 10;
    public const int LibraryNotFound = 12;
    public const int FunctionNotFound = 13;
    public const int GpuIsLost = 15;
    public const int ArgumentVersionMismatch = 25;
    public const int Deprecated = 26;
    public const int Unknown = 999;

    /// <summary>The nvml.h name of a return code, for log lines (constant strings: no allocation).</summary>
    public static string Name(int rc) => rc switch
    {
        0 => "NVML_SUCCESS",
        1 => "NVML_ERROR_UNINITIALIZED",
        2 => "NVML_ERROR_INVALID_ARGUMENT",
        3 => "NVML_ERROR_NOT_SUPPORTED",
        4 => "NVML_ERROR_NO_PERMISSION",
        5 => "NVML_ERROR_ALREADY_INITIALIZED",
        6 => "NVML_ERROR_NOT_FOUND",
        7 => "NVML_ERROR_INSUFFICIENT_SIZE",
        8 => "NVML_ERROR_INSUFFICIENT_POWER",
        9 => "NVML_ERROR_DRIVER_NOT_LOADED",
        10 => "NVML_ERROR_TIMEOUT",
        11 => "NVML_ERROR_IRQ_ISSUE",
        12 => "NVML_ERROR_LIBRARY_NOT_FOUND",
        13 => "NVML_ERROR_FUNCTION_NOT_FOUND",
        14 => "NVML_ERROR_CORRUPTED_INFOROM",
        15 => "NVML_ERROR_GPU_IS_LOST",
        16 => "NVML_ERROR_RESET_REQUIRED",
        17 => "NVML_ERROR_OPERATING_SYSTEM",
        18 => "NVML_ERROR_LIB_RM_VERSION_MISMATCH",
        19 => "NVML_ERROR_IN_USE",
        20 => "NVML_ERROR_MEMORY",
        21 => "NVML_ERROR_NO_DATA",
        23 => "NVML_ERROR_INSUFFICIENT_RESOURCES",
        25 => "NVML_ERROR_ARGUMENT_VERSION_MISMATCH",
        26 => "NVML_ERROR_DEPRECATED",
        27 => "NVML_ERROR_NOT_READY",
        28 => "NVML_ERROR_GPU_NOT_FOUND",
        29 => "NVML_ERROR_INVALID_STATE",
        999 => "NVML_ERROR_UNKNOWN",
        _ => "NVML error",
    };

    public static string Describe(int rc) => $"{Name(rc)} ({rc})";
}

/// <summary>nvml.h constants other than return codes.</summary>
internal static class NvmlConstants
{
    /// <summary><c>nvmlEventTypeXidCriticalError</c>.</summary>
    public const ulong EventTypeXidCriticalError = 0x8;
    /// <summary>
    /// The clock-event reasons that mean the GPU is held below the clocks it was asked for, to protect itself or its
    /// power supply (nvml.h <c>nvmlClocksEventReason*</c>): <c>SwPowerCap</c> 0x4, <c>HwSlowdown</c> 0x8,
    /// <c>SwThermalSlowdown</c> 0x20, <c>HwThermalSlowdown</c> 0x40, <c>HwPowerBrakeSlowdown</c> 0x80.
    /// </summary>
    /// <remarks>
    /// Not throttling: <c>GpuIdle</c> 0x1 (no work), and the clock settings an operator chose, <c>ApplicationsClocksSetting</c>
    /// 0x2, <c>SyncBoost</c> 0x10 (the GPU runs at its sync-boost group's clocks) and <c>DisplayClockSetting</c> 0x100.
    /// Bits a newer driver adds stay in the reported mask and do not count until they are classified here.
    /// </remarks>
    public const ulong ClocksEventReasonsThrottling = 0x4 | 0x8 | 0x20 | 0x40 | 0x80;
    /// <summary><c>NVML_TEMPERATURE_GPU</c>.</summary>
    public const int TemperatureGpu = 0;
    /// <summary><c>NVML_DEVICE_UUID_V2_BUFFER_SIZE</c> and <c>NVML_DEVICE_NAME_V2_BUFFER_SIZE</c>.</summary>
    public const int StringBufferSize = 96;
}

/// <summary>Which XIDs are a user's program's fault rather than the GPU's.</summary>
internal static class XidCatalog
{
    /// <summary>
    /// XIDs whose cause NVIDIA's XID catalog (docs.nvidia.com/deploy/xid-errors, "User App Error") gives as the
    /// application: 13 Graphics Engine Exception (an illegal instruction or address in a kernel), 31 GPU memory page
    /// fault (an illegal memory access), 43 GPU stopped processing (the driver killed a faulting or hung context),
    /// 45 Preemptive cleanup (contexts torn down after a previous error, a kill or a reset), 68 Video processor exception.
    /// The same five are the application errors NVIDIA's Kubernetes device plugin skips in its health check
    /// (k8s-device-plugin, <c>applicationErrorXids</c>). Every other critical XID counts against the GPU.
    /// </summary>
    public static ReadOnlySpan<ulong> ApplicationXids => [13, 31, 43, 45, 68];

    /// <summary>The position of <paramref name="xid"/> in <see cref="ApplicationXids"/>, or -1 for a GPU fault.</summary>
    public static int ApplicationIndex(ulong xid) => ApplicationXids.IndexOf(xid);
}

/// <summary><c>nvmlUtilization_t</c>: percentages over the driver's last sample period.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NvmlUtilization
{
    public uint Gpu;
    public uint Memory;
}

/// <summary><c>nvmlMemory_t</c> (v1): <c>Used</c> includes the driver's reservation.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NvmlMemory
{
    public ulong Total;
    public ulong Free;
    public ulong Used;
}

/// <summary><c>nvmlMemory_v2_t</c>: <c>Used</c> excludes <c>Reserved</c>, as nvidia-smi reports it.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NvmlMemoryV2
{
    public uint Version;
    public ulong Total;
    public ulong Reserved;
    public ulong Free;
    public ulong Used;

    /// <summary><c>nvmlMemory_v2</c> = <c>NVML_STRUCT_VERSION(Memory, 2)</c> = sizeof | 2 &lt;&lt; 24.</summary>
    public static unsafe uint StructVersion => (uint)sizeof(NvmlMemoryV2) | (2u << 24);
}

/// <summary><c>nvmlEventData_t</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NvmlEventData
{
    public nint Device;
    public ulong EventType;
    public ulong EventData;
    public uint GpuInstanceId;
    public uint ComputeInstanceId;
}
