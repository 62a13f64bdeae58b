using Scarcity.Actors.Contracts;
using Scarcity.Actors.Sensing;

namespace Scarcity.Actors.FleetBench;

/// <summary>
/// A simulated GPU host for the fleet benchmark: ten series as deterministic functions of time (no machine is read).
/// VRAM is a square wave (0.92 for 8 s, then 0.60 for 32 s, phase per host) so the default VRAM rule fires, releases and
/// the level recovers to 1 within each period: a steady stream of decisions.
/// </summary>
internal sealed class SyntheticHostSource(int index, DateTimeOffset start) : ISensorSource
{
    private static readonly string[] Names =
    [
        MetricNames.CpuUtil, MetricNames.MemUtil, MetricNames.SwapUtil, MetricNames.GpuUtil, MetricNames.DiskReadMb,
        MetricNames.DiskWriteMb, MetricNames.NetSentMb, MetricNames.NetRecvMb, MetricNames.PsiCpu,
    ];

    private readonly double _phase = index * 0.37 % 1;

    public string Name => "synthetic";

    public void Sample(MetricBuffer buffer, DateTimeOffset now)
    {
        var t = (now - start).TotalSeconds + _phase * 40;
        buffer.Add(MetricNames.VramUtil, t % 40 < 8 ? 0.92 : 0.60);
        for (var i = 0; i < Names.Length; i++)
            buffer.Add(Names[i], 0.2 + 0.1 * Math.Sin(t / (3 + i) + _phase));
    }

    public void Dispose() { }
}
