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

        // Each read belongs to a slot of the schedule (its offset from the first read, in intervals, rounded). A loaded
        // machine may delay one read (it keeps its slot) or skip a tick while a read is still running (the sensor counts
        // it, and the next read takes the slot after): neither is drift. A tick-rounding drift (each read scheduled 250 ms
        // after the last one ran, rounded up to the 50 ms tick: every 300 ms) puts the reads 0, 50, 100, -100, -50 ms
        // off their slots, over and over.
        var tick = SensorNodeSettings.SchedulerTick.TotalMilliseconds;
        var ms = at.Select(t => (t - at[0]).TotalMilliseconds).ToArray();
        var slots = ms.Select(m => (int)Math.Round(m / Interval.TotalMilliseconds)).ToArray();
        Assert.True(slots.Zip(slots.Skip(1), (a, b) => b > a).All(x => x), $"two reads in one slot: {string.Join(", ", ms)}");
        var skipped = slots[^1] - gaps;
        Assert.True(skipped <= gaps / 4, $"{skipped} of {slots[^1]} slots skipped: {string.Join(", ", ms)}");
        var offsets = ms.Select((m, i) => m - slots[i] * Interval.TotalMilliseconds).OrderBy(o => o).ToArray();
        var typical = offsets[offsets.Length / 2];
        var onSchedule = offsets.Count(o => Math.Abs(o - typical) <= tick / 2);
        Assert.True(onSchedule * 3 >= offsets.Length * 2,
            $"only {onSchedule} of {offsets.Length} reads within {tick / 2} ms of their slot: {string.Join(", ", ms)}");
        // No drift: the least-squares slope of the read times against their slots is the interval.
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
