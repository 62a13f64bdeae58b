using Akka.Event;
using Scarcity.Actors.Hosting;
using Scarcity.Actors.Sensing.Nvml;

namespace Scarcity.Actors.Sensing;

/// <summary>Builds the sensor source a configuration asks for.</summary>
public static class SensorSources
{
    /// <summary>
    /// A trace replay when <see cref="SensorConfig.TraceFile"/> is set; else this machine's /proc and cgroup files, its
    /// GPUs through NVML (when <see cref="DRGConfig.Gpu"/> is enabled and no <paramref name="extra"/> source stands in for
    /// them), plus <paramref name="extra"/> sources (a simulated GPU), each isolated from the others' failures.
    /// </summary>
    public static ISensorSource Create(DRGConfig config, ILoggingAdapter log, params ISensorSource[] extra)
    {
        if (config.Sensor.TraceFile is { } trace) return new TraceSensorSource(trace);
        var linux = new LinuxSensorSource(new LinuxSensorOptions
        {
            ProcRoot = config.Sensor.ProcRoot,
            CgroupRoot = config.Sensor.CgroupRoot,
            OnNotice = notice => log.Info("Sensor: {0}", notice),
        });
        if (extra.Length == 0 && config.Gpu.Enabled)
            extra = [new NvmlSensorSource(config.Gpu, line => log.Info("GPU: {0}", line))];
        if (extra.Length == 0) return linux;
        return new CompositeSensorSource([linux, .. extra],
            (source, error) => log.Warning("Sensor source {0} failed this sample ({1}); its metrics are stale until it recovers", source.Name, error.Message));
    }
}
