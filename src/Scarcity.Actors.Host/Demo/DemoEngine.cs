using Scarcity.Actors.Contracts;
using Scarcity.Actors.Sensing;
using Scarcity.Actors.Simulation;

namespace Scarcity.Actors.Host.Demo;

/// <summary>
/// The simulated inference engine of <c>--demo</c>: the reference engine model on a simulated GPU. Its VRAM is a
/// number, not memory: the demo takes nothing from the machine.
/// </summary>
internal sealed class DemoEngine
{
    private double _vram;

    public DemoEngine() => Gpu = new SimulatedGpuSource(this);

    public InferenceEngineModel Model { get; } = new();

    /// <summary>The simulated GPU as a sensor source: <c>vram_util{gpu="0"}</c> and the host's worst-GPU series.</summary>
    public ISensorSource Gpu { get; }

    /// <summary>VRAM as NVML would report it, written by the engine's actor and read by the sensor thread.</summary>
    public double VramUtil
    {
        get => Volatile.Read(ref _vram);
        set => Volatile.Write(ref _vram, value);
    }

    private sealed class SimulatedGpuSource(DemoEngine engine) : ISensorSource
    {
        private static readonly string Gpu0 = MetricNames.Labelled(MetricNames.VramUtil, MetricNames.GpuLabel, "0");

        public string Name => "simulated-gpu";

        public void Sample(MetricBuffer buffer, DateTimeOffset now)
        {
            var vram = engine.VramUtil;
            buffer.Add(Gpu0, vram);
            buffer.Add(MetricNames.VramUtil, vram);
        }

        public void Dispose() { }
    }
}
