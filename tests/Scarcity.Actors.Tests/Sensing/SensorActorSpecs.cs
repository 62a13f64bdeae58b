using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.TestKit;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Sensing;
using Scarcity.Actors.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.Tests.Sensing;

/// <summary>
/// The sensor alone under TestKit, a probe standing in for the profiler: it samples on the thread pool every interval,
/// skips (and counts) the ticks that find a read still running instead of queueing them, survives a source that throws,
/// replays a trace at the trace's own timestamps, and disposes its source only once no read is using it.
/// </summary>
public sealed class SensorActorSpecs : Akka.TestKit.Xunit2.TestKit
{
    private const string Host = "gpu-sensor-spec";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    // Every Sample goes through the ScarcitySerializer on its way to the probe, as it would to a remote profiler.
    private static readonly Config SpecConfig = ConfigurationFactory.ParseString("akka.loglevel = WARNING\n" + AkkaInternalsPassThroughSerializer.Hocon)
        .WithFallback(ScarcitySerialization.Config);

    public SensorActorSpecs(ITestOutputHelper output) : base(SpecConfig, output: output)
    {
    }

    [Fact]
    public void Every_interval_a_read_of_the_source_reaches_the_profiler_as_a_Sample_taken_at_the_instant_given_to_the_source()
    {
        var interval = TimeSpan.FromMilliseconds(100);
        var source = new ScriptedSource();
        var profiler = CreateTestProbe();

        var sensor = Sys.ActorOf(SensorActor.Props(Host, source, interval, profiler.Ref));
        var samples = Enumerable.Range(0, 4).Select(_ => profiler.ExpectMsg<Sample>(Wait)).ToList();

        Assert.All(samples, s => Assert.Equal(Host, s.Host));
        Assert.Equal([1, 2, 3, 4], samples.Select(ReadNumber));
        Assert.All(samples, s => Assert.Contains(new MetricValue(MetricNames.VramUtil, 0.5), s.Values));
        Assert.All(samples, s => Assert.Equal<string>([ScriptedSource.LostGpu], s.Stale)); // reported stale, never as a zero reading
        Assert.All(samples, s => Assert.Equal(source.SampledAt[ReadNumber(s)], s.At));
        // Paced by the interval, not read back to back: 3 intervals between the first and the fourth read (the scheduler
        // never fires early; half of it leaves room for a late first tick on a loaded machine).
        Assert.True(samples[3].At - samples[0].At >= interval * 1.5, $"4 reads within {(samples[3].At - samples[0].At).TotalMilliseconds} ms");

        Watch(sensor);
        Sys.Stop(sensor);
        ExpectTerminated(sensor, Wait);
        AwaitCondition(() => source.Disposed, Wait);
    }

    [Fact]
    public void While_a_read_hangs_every_tick_is_skipped_and_counted_and_no_second_read_starts()
    {
        var source = new GatedSource();
        var profiler = CreateTestProbe();
        var warnings = CreateTestProbe();
        Sys.EventStream.Subscribe(warnings.Ref, typeof(Warning));

        Sys.ActorOf(SensorActor.Props(Host, source, TimeSpan.FromMilliseconds(10), profiler.Ref));
        Assert.True(source.Entered.Wait(Wait), "the first read never started");

        // The sensor warns at the first skipped tick and at every hundredth, with the count so far.
        FishForWarning(warnings, "1 ticks skipped so far");
        FishForWarning(warnings, "100 ticks skipped so far", TimeSpan.FromSeconds(30));
        Assert.Equal(1, source.Calls);
        Assert.Equal(1, source.MaxConcurrentReads);
        Assert.False(profiler.HasMessages, "a Sample went out while the only read was still running");

        source.Open();
        Assert.Equal(1, ReadNumber(profiler.ExpectMsg<Sample>(Wait)));
        Assert.Equal(2, ReadNumber(profiler.ExpectMsg<Sample>(Wait)));
        Assert.Equal(1, source.MaxConcurrentReads);
    }

    [Fact]
    public void Ticks_skipped_during_a_hung_read_are_not_replayed_afterwards_sampling_resumes_at_the_interval()
    {
        var interval = TimeSpan.FromMilliseconds(300);
        var source = new GatedSource();
        var profiler = CreateTestProbe();
        var warnings = CreateTestProbe();
        Sys.EventStream.Subscribe(warnings.Ref, typeof(Warning));

        Sys.ActorOf(SensorActor.Props(Host, source, interval, profiler.Ref));
        Assert.True(source.Entered.Wait(Wait), "the first read never started");
        FishForWarning(warnings, "1 ticks skipped so far");
        profiler.ExpectNoMsg(interval * 5); // several more ticks come and go while the read hangs

        source.Open();
        var samples = Enumerable.Range(0, 5).Select(_ => profiler.ExpectMsg<Sample>(Wait)).ToList();

        Assert.Equal([1, 2, 3, 4, 5], samples.Select(ReadNumber));
        // Queued ticks would run reads 2..5 back to back the moment read 1 returns; skipped ones leave an interval
        // between reads (3 intervals here, half of that is plenty of slack for a late tick).
        var span = samples[4].At - samples[1].At;
        Assert.True(span >= interval * 1.5, $"reads 2 to 5 took {span.TotalMilliseconds} ms: skipped ticks were replayed");
        Assert.Equal(1, source.MaxConcurrentReads);
    }

    [Fact]
    public void A_source_that_throws_does_not_stop_the_sensor_the_next_read_goes_out_and_a_repeated_failure_is_logged_once()
    {
        var source = new ScriptedSource { FailingReads = [2, 3, 4] };
        var profiler = CreateTestProbe();
        var errors = CreateTestProbe();
        Sys.EventStream.Subscribe(errors.Ref, typeof(Error));

        var sensor = Sys.ActorOf(SensorActor.Props(Host, source, TimeSpan.FromMilliseconds(100), profiler.Ref));
        Watch(sensor);

        var first = profiler.ExpectMsg<Sample>(Wait);
        var next = profiler.ExpectMsg<Sample>(Wait);

        Assert.Equal(1, ReadNumber(first));
        Assert.Equal(5, ReadNumber(next)); // reads 2-4 failed and sent nothing, not even what they read before throwing
        Assert.Equal<MetricValue>([new(ScriptedSource.ReadSeries, 5), new(MetricNames.VramUtil, 0.5)], next.Values);
        Assert.False(source.Disposed, "the sensor was restarted (a restart disposes the source)");
        var error = errors.ExpectMsg<Error>(e => e.Cause is InvalidOperationException { Message: ScriptedSource.Failure }, Wait);
        Assert.Contains(Host, error.Message.ToString());
        errors.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // the same failure three times is one log line
        ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // no Terminated
    }

    [Fact]
    public void A_trace_is_replayed_at_its_own_timestamps_whatever_the_configured_interval()
    {
        var trace = new TraceSensorSource(Path.Combine(AppContext.BaseDirectory, "Traces", "vram-step.csv"));
        var profiler = CreateTestProbe();
        var clock = Stopwatch.StartNew();

        var sensor = Sys.ActorOf(SensorActor.Props(Host, trace, TimeSpan.FromHours(1), profiler.Ref));
        var samples = new List<Sample>();
        var arrivedAt = new List<TimeSpan>();
        for (var i = 0; i < 9; i++)
        {
            samples.Add(profiler.ExpectMsg<Sample>(Wait));
            arrivedAt.Add(clock.Elapsed);
        }

        // The file's readings, 0.25 s apart, the step to 0.95 at t = 2.0 s.
        Assert.Equal(Enumerable.Range(0, 9).Select(i => TimeSpan.FromMilliseconds(250 * i)), samples.Select(s => s.At - samples[0].At));
        Assert.All(samples.Take(8), s => Assert.Contains(new MetricValue(MetricNames.VramUtil, 0.5), s.Values));
        Assert.Contains(new MetricValue(MetricNames.VramUtil, 0.95), samples[8].Values);
        Assert.All(samples, s => Assert.Contains(new MetricValue(MetricNames.CpuUtil, 0.2), s.Values));
        // In real time: the reading of t = 2 s is not sent before 2 s have passed.
        Assert.True(arrivedAt[8] >= TimeSpan.FromMilliseconds(1950), $"the t = 2 s reading arrived after {arrivedAt[8].TotalMilliseconds} ms");
        Sys.Stop(sensor);
    }

    [Fact]
    public void An_irregular_trace_keeps_its_gaps_and_the_replay_stops_after_its_last_reading()
    {
        const string csv = """
            t_seconds,metric,value
            0.0,vram_util,0.10
            0.1,vram_util,0.20
            0.9,vram_util,0.30
            0.9,cpu_util,0.40
            """;
        var trace = new TraceSensorSource(new StringReader(csv), "irregular.csv");
        var profiler = CreateTestProbe();

        var clock = Stopwatch.StartNew();
        Sys.ActorOf(SensorActor.Props(Host, trace, TimeSpan.FromMilliseconds(50), profiler.Ref));
        var samples = Enumerable.Range(0, 3).Select(_ => profiler.ExpectMsg<Sample>(Wait)).ToList();
        var last = clock.Elapsed;

        Assert.Equal([TimeSpan.Zero, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(900)], samples.Select(s => s.At - samples[0].At));
        Assert.Equal<MetricValue>([new MetricValue(MetricNames.VramUtil, 0.3), new MetricValue(MetricNames.CpuUtil, 0.4)], samples[2].Values);
        // The trace's 0.8 s gap is waited out in real time, not the 50 ms interval.
        Assert.True(last >= TimeSpan.FromMilliseconds(850), $"the t = 0.9 s reading arrived after {last.TotalMilliseconds} ms");
        profiler.ExpectNoMsg(TimeSpan.FromSeconds(1)); // no repeat of the last reading, no restart from the top
    }

    [Fact]
    public void Stopping_the_sensor_during_a_read_disposes_the_source_only_after_that_read_returns_and_sends_nothing()
    {
        var source = new GatedSource();
        var profiler = CreateTestProbe();
        var sensor = Sys.ActorOf(SensorActor.Props(Host, source, TimeSpan.FromMilliseconds(100), profiler.Ref));
        Assert.True(source.Entered.Wait(Wait), "the first read never started");

        Watch(sensor);
        Sys.Stop(sensor);
        ExpectTerminated(sensor, Wait);
        Assert.False(source.Disposed, "the source was disposed while a read was still using it");

        source.Open();
        AwaitCondition(() => source.Disposed, Wait);
        Assert.False(source.DisposedDuringRead);
        profiler.ExpectNoMsg(TimeSpan.FromMilliseconds(500)); // a stopped sensor's last read goes nowhere
        Assert.Equal(1, source.Calls);
    }

    private static int ReadNumber(Sample sample) => (int)sample.Values.Single(v => v.Metric == ScriptedSource.ReadSeries).Value;

    private static void FishForWarning(TestProbe warnings, string text, TimeSpan? timeout = null) =>
        warnings.FishForMessage<Warning>(w => w.Message.ToString()!.Contains(Host) && w.Message.ToString()!.Contains(text), timeout ?? Wait);

    /// <summary>Numbers its reads; throws on the reads listed in <see cref="FailingReads"/>, after reading part of a sample.</summary>
    private sealed class ScriptedSource : ISensorSource
    {
        public const string ReadSeries = "spec_read";
        public const string PartialSeries = "spec_partial";
        public const string LostGpu = "gpu_util{gpu=\"1\"}";
        public const string Failure = "device lost";
        private int _calls;
        private volatile bool _disposed;

        public HashSet<int> FailingReads { get; init; } = [];
        public ConcurrentDictionary<int, DateTimeOffset> SampledAt { get; } = new();
        public bool Disposed => _disposed;
        public string Name => "scripted";

        public void Sample(MetricBuffer buffer, DateTimeOffset now)
        {
            var read = Interlocked.Increment(ref _calls);
            SampledAt[read] = now;
            if (FailingReads.Contains(read))
            {
                buffer.Add(PartialSeries, read);
                throw new InvalidOperationException(Failure);
            }
            buffer.Add(ReadSeries, read);
            buffer.Add(MetricNames.VramUtil, 0.5);
            buffer.AddStale(LostGpu);
        }

        public void Dispose() => _disposed = true;
    }

    /// <summary>A source whose reads hang until the spec opens its gate; it records overlapping reads and a Dispose under a read.</summary>
    private sealed class GatedSource : ISensorSource
    {
        private readonly ManualResetEventSlim _gate = new(false);
        private int _calls;
        private int _active;
        private int _maxActive;
        private volatile bool _disposed;
        private volatile bool _disposedDuringRead;

        public SemaphoreSlim Entered { get; } = new(0);
        public int Calls => Volatile.Read(ref _calls);
        public int MaxConcurrentReads => Volatile.Read(ref _maxActive);
        public bool Disposed => _disposed;
        public bool DisposedDuringRead => _disposedDuringRead;
        public string Name => "gated";

        public void Open() => _gate.Set();

        public void Sample(MetricBuffer buffer, DateTimeOffset now)
        {
            var read = Interlocked.Increment(ref _calls);
            var active = Interlocked.Increment(ref _active);
            int max;
            while (active > (max = Volatile.Read(ref _maxActive)) && Interlocked.CompareExchange(ref _maxActive, active, max) != max)
            {
            }
            try
            {
                Entered.Release();
                _gate.Wait(TimeSpan.FromSeconds(60)); // bounded, so a failed spec cannot hold a pool thread for ever
                buffer.Add(ScriptedSource.ReadSeries, read);
            }
            finally
            {
                Interlocked.Decrement(ref _active);
            }
        }

        public void Dispose()
        {
            if (Volatile.Read(ref _active) > 0) _disposedDuringRead = true;
            _disposed = true;
        }
    }
}
