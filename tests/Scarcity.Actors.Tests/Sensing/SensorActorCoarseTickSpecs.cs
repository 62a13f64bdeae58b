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

        // Each read belongs to the slot of the schedule nearest to it (its offset from the first read, in intervals,
        // rounded). The 50 ms tick puts a read on its slot or up to a tick after it; a loaded machine may delay a read
        // more (the reads after it keep the schedule) or skip a tick while a read is still running (the sensor counts
        // it). A drift (each read scheduled 250 ms after the last one ran, rounded up to the tick: every 300 ms) puts
        // the reads 0, 50, 100, -100, -50 ms off their nearest slots, over and over: at most 3 in 5 within a tick of
        // one another.
        var tick = SensorNodeSettings.SchedulerTick.TotalMilliseconds;
        var ms = at.Select(t => (t - at[0]).TotalMilliseconds).ToArray();
        var slots = ms.Select(m => (int)Math.Round(m / Interval.TotalMilliseconds)).ToArray();
        var reads = string.Join(", ", ms.Select(m => $"{m:0}"));
        var skipped = slots[^1] - gaps;
        Assert.True(skipped <= gaps / 4, $"{skipped} of {slots[^1]} slots skipped: {reads}");
        var offsets = ms.Select((m, i) => m - slots[i] * Interval.TotalMilliseconds).ToArray();
        var typical = offsets.Order().ElementAt(offsets.Length / 2);
        var onSchedule = offsets.Count(o => Math.Abs(o - typical) <= tick + 5);
        Assert.True(onSchedule * 4 >= offsets.Length * 3, $"only {onSchedule} of {offsets.Length} reads within a tick of their slot: {reads}");
        // The pace: the least-squares slope of the read times against their slots is the interval.
        var meanSlot = slots.Average();
        var meanMs = ms.Average();
        var slope = ms.Select((m, i) => (slots[i] - meanSlot) * (m - meanMs)).Sum() / slots.Sum(k => (k - meanSlot) * (k - meanSlot));
        Assert.InRange(slope, Interval.TotalMilliseconds - tick / 2, Interval.TotalMilliseconds + tick / 2);
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
