using Akka.Event;
using Scarcity.Actors.Hosting;

namespace Scarcity.Actors.Sensing;

/// <summary>Builds the sensor source a configuration asks for.</summary>
public static class SensorSources
{
    /// <summary>A trace replay when <see cref="SensorConfig.TraceFile"/> is set, else this machine's /proc and cgroup files.</summary>
    public static ISensorSource Create(DRGConfig config, ILoggingAdapter log)
    {
        if (config.Sensor.TraceFile is { } trace) return new TraceSensorSource(trace);
        return new LinuxSensorSource(config.Sensor.ProcRoot, config.Sensor.CgroupRoot);
    }
}
