using Scarcity.Actors.Sensing.Nvml;
using Scarcity.Actors.Sensing.Scrape;

namespace Scarcity.Actors.Sensing;

/// <summary>Builds the sensor source a configuration asks for.</summary>
public static class SensorSources
{
    /// <summary>
    /// A trace replay when <see cref="SensorConfig.TraceFile"/> is set; else this machine's /proc and cgroup files, its
    /// GPUs through NVML (when <paramref name="gpu"/> is enabled and no <paramref name="extra"/> source stands in for
    /// them), plus <paramref name="extra"/> sources (a simulated GPU), each isolated from the others' failures and hangs
    /// (<see cref="CompositeSensorSource"/>, waiting <see cref="SensorConfig.EffectiveSourceDeadline"/>). The Linux
    /// source alone is returned bare: it has nothing to be isolated from.
    /// </summary>
    /// <param name="sensor">Where to read.</param>
    /// <param name="gpu">GPU sensing.</param>
    /// <param name="notice">Hears one line per degraded or changed source (no PSI, no NVML driver, a GPU back).</param>
    /// <param name="warning">Hears a source failing a sample.</param>
    /// <param name="extra">Sources added to the machine's.</param>
    public static ISensorSource Create(SensorConfig sensor, NvmlConfig gpu, Action<string> notice, Action<string> warning, params ISensorSource[] extra)
    {
        if (sensor.TraceFile is { } trace) return new TraceSensorSource(trace);
        var linux = new LinuxSensorSource(new LinuxSensorConfig
        {
            ProcRoot = sensor.ProcRoot,
            CgroupRoot = sensor.CgroupRoot,
            SysRoot = sensor.SysRoot,
            OnNotice = line => notice("Sensor: " + line),
        });
        if (extra.Length == 0 && gpu.Enabled)
            extra = [new NvmlSensorSource(gpu, line => notice("GPU: " + line))];
        if (extra.Length == 0) return linux;
        return new CompositeSensorSource([linux, .. extra],
            (source, error) => warning(error is TimeoutException
                ? $"Sensor source {source.Name} hangs: {error.Message}"
                : $"Sensor source {source.Name} failed this sample ({error.Message}); its metrics are stale until it recovers"),
            sensor.EffectiveSourceDeadline,
            line => notice("Sensor: " + line));
    }

    /// <summary>
    /// <paramref name="source"/> followed, in every sample, by the subsystems' series of <paramref name="scrape"/>, which
    /// needs no isolation: its sample never waits on the network. A trace replay is returned alone (its readings carry
    /// the trace's time, not the scrape's), and <paramref name="notice"/> says so.
    /// </summary>
    public static ISensorSource WithScrape(ISensorSource source, ScrapeSensorSource? scrape, Action<string> notice)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (scrape is null) return source;
        if (source is IClockedSensorSource)
        {
            notice($"Sensor: {scrape.Name} is not scraped while {source.Name} is replayed");
            scrape.Dispose();
            return source;
        }
        return new Scraped(source, scrape);
    }

    private sealed class Scraped(ISensorSource source, ScrapeSensorSource scrape) : ISensorSource
    {
        public string Name { get; } = source.Name + "+" + scrape.Name;

        public void Sample(MetricBuffer buffer, DateTimeOffset now)
        {
            try
            {
                source.Sample(buffer, now);
            }
            finally
            {
                // Even when the machine's read fails, due scrapes start and finished ones are collected.
                scrape.Sample(buffer, now);
            }
        }

        public void Dispose()
        {
            try
            {
                source.Dispose();
            }
            finally
            {
                scrape.Dispose();
            }
        }
    }
}
