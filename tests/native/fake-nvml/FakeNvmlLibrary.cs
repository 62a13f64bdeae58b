using System.Runtime.InteropServices;
using System.Text;

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

    /// <summary>Script <c>times</c>: every call from now on.</summary>
    public const int Always = -1;

    /// <summary>Every device (and the entry points that take none).</summary>
    public const int AnyDevice = -1;

    /// <summary>
    /// Makes <paramref name="function"/> (its NVML export name) answer <paramref name="rc"/> on <paramref name="device"/>
    /// for its next <paramref name="times"/> calls (<see cref="Always"/>: for good); rc 0 clears the script.
    /// </summary>
    public void Script(string function, int device, int rc, int times = Always) =>
        Check(function, WithName(function, name =>
            ((delegate* unmanaged[Cdecl]<byte*, int, int, int, int>)Export("fake_nvml_script"))((byte*)name, device, rc, times)));

    /// <summary>Makes the next <paramref name="times"/> calls of <paramref name="function"/> on <paramref name="device"/>
    /// (<see cref="Always"/>: every call) block first: for <paramref name="delay"/>, or until <see cref="ReleaseDelays"/>
    /// when it is <see cref="Timeout.InfiniteTimeSpan"/>.</summary>
    public void SetDelay(string function, int device, TimeSpan delay, int times = Always) =>
        Check(function, WithName(function, name =>
            ((delegate* unmanaged[Cdecl]<byte*, int, int, int, int>)Export("fake_nvml_set_delay"))(
                (byte*)name, device, delay == Timeout.InfiniteTimeSpan ? -1 : (int)delay.TotalMilliseconds, times)));

    /// <summary>Returns every call blocked in a delay at once, and clears the delays.</summary>
    public void ReleaseDelays() => ((delegate* unmanaged[Cdecl]<void>)Export("fake_nvml_release_delays"))();

    /// <summary>How often <paramref name="function"/> was called on <paramref name="device"/> since the reset.</summary>
    public int Calls(string function, int device = AnyDevice)
    {
        var n = WithName(function, name =>
            ((delegate* unmanaged[Cdecl]<byte*, int, int>)Export("fake_nvml_calls"))((byte*)name, device));
        Check(function, n < 0 ? -1 : 0);
        return n;
    }

    private static int WithName(string function, Func<nint, int> call)
    {
        var bytes = Encoding.UTF8.GetBytes(function + "\0");
        fixed (byte* name = bytes) return call((nint)name);
    }

    private static void Check(string function, int rc)
    {
        if (rc < 0) throw new ArgumentException($"the fake NVML does not script '{function}'", nameof(function));
    }

    public void Dispose()
    {
        if (_handle == 0) return;
        NativeLibrary.Free(_handle);
        _handle = 0;
    }
}
