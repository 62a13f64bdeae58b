using Akka.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Hosting;
using Scarcity.Actors.Sensing;
using Scarcity.Actors.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.Tests.Sensing;

/// <summary>
/// The sensor under the scheduler a sensor-only node runs with (<see cref="SensorNodeSettings.SchedulerTick"/>, coarser
/// than Akka's 10 ms): sampling every 250 ms keeps its pace, evenly and without drift.
/// </summary>
public sealed class SensorActorCoarseTickSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    private static readonly Config SpecConfig = ConfigurationFactory.ParseString("akka.loglevel = WARNING\n" + SensorNodeSettings.Hocon + "\n" +
                                                                                 AkkaInternalsPassThroughSerializer.Hocon)
        .WithFallback(ScarcitySerialization.Config);

    public SensorActorCoarseTickSpecs(ITestOutputHelper output) : base(SpecConfig, output: output)
    {
    }

    [Fact]
    public void At_the_sensor_nodes_scheduler_tick_a_250_ms_interval_keeps_its_pace_evenly_and_does_not_drift()
    {
        // The system under test really runs with the coarse tick (otherwise this spec would prove nothing).
        Assert.Equal(SensorNodeSettings.SchedulerTick, Sys.Settings.Config.GetTimeSpan("akka.scheduler.tick-duration"));
        var profiler = CreateTestProbe();

        Sys.ActorOf(SensorActor.Props("coarse-tick-spec", new CountingSource(), Interval, profiler.Ref));
        const int gaps = 16;
        var at = Enumerable.Range(0, gaps + 1).Select(_ => profiler.ExpectMsg<Sample>(TimeSpan.FromSeconds(10)).At).ToList();

        var intervals = at.Zip(at.Skip(1), (a, b) => b - a).OrderBy(d => d).ToList();
        // No drift: the least-squares slope of the read times against their index is the interval. A tick-rounding drift
        // (each read scheduled 250 ms after the last one ran, rounded up to the 50 ms tick) makes it 300 ms; one read made
        // late by a loaded machine moves the slope by a few milliseconds only, because the reads after it keep the schedule.
        var ms = at.Select(t => (t - at[0]).TotalMilliseconds).ToArray();
        var meanIndex = gaps / 2.0;
        var meanMs = ms.Average();
        var slope = ms.Select((m, i) => (i - meanIndex) * (m - meanMs)).Sum() /
                    Enumerable.Range(0, gaps + 1).Sum(i => (i - meanIndex) * (i - meanIndex));
        Assert.InRange(slope, Interval.TotalMilliseconds - SensorNodeSettings.SchedulerTick.TotalMilliseconds / 2, Interval.TotalMilliseconds + SensorNodeSettings.SchedulerTick.TotalMilliseconds / 2);
        // Even: the typical interval is the configured one, within one tick.
        var median = intervals[gaps / 2];
        Assert.InRange(median.TotalMilliseconds, (Interval - SensorNodeSettings.SchedulerTick).TotalMilliseconds,
            (Interval + SensorNodeSettings.SchedulerTick).TotalMilliseconds);
    }

    private sealed class CountingSource : ISensorSource
    {
        private int _reads;

        public string Name => "counting";

        public void Sample(MetricBuffer buffer, DateTimeOffset now) => buffer.Add("spec_read", Interlocked.Increment(ref _reads));

        public void Dispose()
        {
        }
    }
}
