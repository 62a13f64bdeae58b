namespace Scarcity.Actors.Sensing.Nvml;

/// <summary>A GPU as NVML enumerates it.</summary>
/// <param name="Index">NVML's index, the value of the <c>gpu</c> label (the same order as nvidia-smi).</param>
/// <param name="Uuid">The device's UUID, e.g. <c>GPU-5f1c...</c>, stable across reboots and re-enumeration.</param>
/// <param name="Name">The product name, e.g. <c>NVIDIA H100 80GB HBM3</c>.</param>
public sealed record NvmlDevice(int Index, string Uuid, string Name);
