using Scarcity.Actors.Sensing;

namespace Scarcity.Actors.Core.Tests.Sensing;

/// <summary>
/// What the field-case specs of <see cref="LinuxSensorSource"/> share: a fake host tree (<see cref="ProcTree"/>), a source
/// reading it through the real file code, the notices it says, and one sample at a time.
/// </summary>
public abstract class LinuxSourceSpecBase : IDisposable
{
    protected static readonly DateTimeOffset T0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    protected readonly ProcTree _tree = ProcTree.Host();
    protected readonly List<string> _notices = [];
    protected readonly MetricBuffer _buffer = new();

    public void Dispose()
    {
        _tree.Dispose();
        GC.SuppressFinalize(this);
    }

    protected LinuxSensorSource Source() => new(new LinuxSensorConfig
    {
        ProcRoot = _tree.Proc,
        CgroupRoot = _tree.Cgroup,
        SysRoot = _tree.Sys,
        OnNotice = _notices.Add,
    });

    /// <summary>One sample at <see cref="T0"/> + <paramref name="seconds"/>; the buffer is reused by the next call.</summary>
    protected MetricBuffer Sample(LinuxSensorSource source, double seconds)
    {
        _buffer.Clear();
        source.Sample(_buffer, T0.AddSeconds(seconds));
        return _buffer;
    }
}
