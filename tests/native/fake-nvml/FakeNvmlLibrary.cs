using System.Runtime.InteropServices;

namespace Scarcity.Actors.Testing;

/// <summary>
/// Scripts the fake libnvidia-ml (tests/native/fake-nvml/fake_nvml.c) through its own exports, on the same loaded
/// library the source under test binds. State is global to the library, so opening one resets it.
/// </summary>
internal sealed unsafe class FakeNvmlLibrary : IDisposable
{
    /// <summary>The full fake, beside the test assembly.</summary>
    public static string DefaultPath => Path.Combine(AppContext.BaseDirectory, "libfake-nvml.so");

    /// <summary>The fake built without <c>nvmlDeviceGetMemoryInfo_v2</c>.</summary>
    public static string WithoutMemoryV2Path => Path.Combine(AppContext.BaseDirectory, "libfake-nvml-nomemv2.so");

    private nint _handle;

    public FakeNvmlLibrary(string? path = null)
    {
        LibraryPath = path ?? DefaultPath;
        _handle = NativeLibrary.Load(LibraryPath);
        Reset();
    }

    public string LibraryPath { get; }

    private nint Export(string name) => NativeLibrary.GetExport(_handle, name);

    public void Reset() => ((delegate* unmanaged[Cdecl]<void>)Export("fake_nvml_reset"))();

    public void SetDeviceCount(uint n) => ((delegate* unmanaged[Cdecl]<uint, void>)Export("fake_nvml_set_device_count"))(n);

    public void SetInitResult(int rc) => ((delegate* unmanaged[Cdecl]<int, void>)Export("fake_nvml_set_init_result"))(rc);

    public int InitRefs => ((delegate* unmanaged[Cdecl]<int>)Export("fake_nvml_init_refs"))();

    public void FailDevice(int i, int rc) => ((delegate* unmanaged[Cdecl]<int, int, void>)Export("fake_nvml_fail_device"))(i, rc);

    public void SetUtilization(int i, uint gpu, uint memory) =>
        ((delegate* unmanaged[Cdecl]<int, uint, uint, void>)Export("fake_nvml_set_utilization"))(i, gpu, memory);

    public void SetMemory(int i, ulong total, ulong used) =>
        ((delegate* unmanaged[Cdecl]<int, ulong, ulong, void>)Export("fake_nvml_set_memory"))(i, total, used);

    public void SetPower(int i, uint usageMw, uint limitMw) =>
        ((delegate* unmanaged[Cdecl]<int, uint, uint, void>)Export("fake_nvml_set_power"))(i, usageMw, limitMw);

    public void SetTemperature(int i, uint celsius) =>
        ((delegate* unmanaged[Cdecl]<int, uint, void>)Export("fake_nvml_set_temperature"))(i, celsius);

    public void SetThrottleReasons(int i, ulong mask) =>
        ((delegate* unmanaged[Cdecl]<int, ulong, void>)Export("fake_nvml_set_throttle_reasons"))(i, mask);

    public void SetEventsResult(int i, int rc) =>
        ((delegate* unmanaged[Cdecl]<int, int, void>)Export("fake_nvml_set_events_result"))(i, rc);

    public void SetMemoryV2Result(int rc) =>
        ((delegate* unmanaged[Cdecl]<int, void>)Export("fake_nvml_set_memory_v2_result"))(rc);

    public int MemoryV2Calls => ((delegate* unmanaged[Cdecl]<int>)Export("fake_nvml_memory_v2_calls"))();

    public int MemoryV1Calls => ((delegate* unmanaged[Cdecl]<int>)Export("fake_nvml_memory_v1_calls"))();

    public void FailNextEventWait(int rc) =>
        ((delegate* unmanaged[Cdecl]<int, void>)Export("fake_nvml_fail_next_event_wait"))(rc);

    public bool EventSetLive => ((delegate* unmanaged[Cdecl]<int>)Export("fake_nvml_event_set_live"))() != 0;

    public void PushXid(int i, ulong xid) =>
        ((delegate* unmanaged[Cdecl]<int, ulong, void>)Export("fake_nvml_push_xid"))(i, xid);

    public void Dispose()
    {
        if (_handle == 0) return;
        NativeLibrary.Free(_handle);
        _handle = 0;
    }
}
