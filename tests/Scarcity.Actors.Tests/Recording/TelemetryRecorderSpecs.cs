using System.Collections.Immutable;
using Akka.Actor;
using Akka.TestKit;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Profiling;
using Scarcity.Actors.Recording;
using Scarcity.Actors.Replay;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.Tests.Recording;

/// <summary>
/// The recording's hook in the profiler and the recorder actor writing real segment files: off, the profiler has no
/// recorder and tells nothing; on, it tells the recorder the very <see cref="Sample"/> it received (no record is built on
/// its path); the recorder writes them, and a directory it cannot write is logged, counted and never stops profiling.
/// </summary>
public sealed class TelemetryRecorderSpecs : Akka.TestKit.Xunit2.TestKit, IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
    private const string Host = "gpu-01";
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"scarcity-recorder-{Guid.NewGuid():N}");
    private readonly TestProbe _actuators;
    private readonly TestProbe _digest;

    public TelemetryRecorderSpecs(ITestOutputHelper output) : base(ActorSpecConfig.LocalNode, "recorder-specs", output)
    {
        _actuators = CreateTestProbe("actuators");
        _digest = CreateTestProbe("digest");
    }

    void IDisposable.Dispose()
    {
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }

    private IActorRef Profiler() =>
        Sys.ActorOf(ProfilerActor.Props(Host, new ProfilerConfig(), TimeSpan.FromHours(1), _actuators.Ref, _digest.Ref), "profiler-" + Host);

    private static Sample SampleAt(double seconds, double vram = 0.5) => new(Host, T0.AddSeconds(seconds), [new MetricValue(MetricNames.VramUtil, vram)], []);

    [Fact]
    public void Off_the_profiler_holds_no_recorder_and_tells_nothing_per_sample()
    {
        var recorder = CreateTestProbe("recorder");
        Assert.Null(TelemetryRecording.RecorderOf(Sys)); // Scarcity:Recording:Enabled defaults to false: WithRecording sets none

        var profiler = Profiler();
        profiler.Tell(SampleAt(0));
        _digest.FishForMessage<TelemetryPublished>(t => t.Profile.At == T0, Wait);
        TelemetryRecording.Get(Sys).Recorder = recorder.Ref; // too late for this profiler: it looked once, when it started
        for (var i = 1; i <= 20; i++) profiler.Tell(SampleAt(i));
        _digest.FishForMessage<TelemetryPublished>(t => t.Profile.At == T0.AddSeconds(20), Wait);

        recorder.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void On_the_profiler_tells_the_recorder_the_sample_it_received_itself_and_each_accepted_report()
    {
        var recorder = CreateTestProbe("recorder");
        TelemetryRecording.Get(Sys).Recorder = recorder.Ref;
        var profiler = Profiler();
        var sample = SampleAt(1);
        var holder = CreateTestProbe("holder");
        profiler.Tell(new AttachSubsystem(Host, "engine", ProfilerActor.HolderPathOf(holder.Ref, Sys)));

        profiler.Tell(sample);
        var report = new ReportMetrics("engine", Host, ImmutableDictionary<string, double>.Empty.Add(MetricNames.LatencyMs, 120), T0.AddSeconds(1.1), holder.Ref);
        profiler.Tell(report);
        profiler.Tell(report with { Reporter = CreateTestProbe("impostor").Ref }); // refused: not recorded

        Assert.Same(sample, recorder.ExpectMsg<Sample>(Wait));
        Assert.Same(report, recorder.ExpectMsg<ReportMetrics>(Wait));
        recorder.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void The_recorder_writes_frames_to_segment_files_and_answers_pages_of_them()
    {
        var config = new RecordingConfig { Enabled = true, Directory = _directory, FlushInterval = TimeSpan.FromMilliseconds(50) };
        var recorder = Sys.ActorOf(TelemetryRecorderActor.Props(config));
        for (var i = 0; i < 100; i++) recorder.Tell(SampleAt(i * 0.25));
        recorder.Tell(TelemetryRecord.Of(new RegisterSubsystem("engine", Host, 3, ["reduce_batch"], ActorRefs.Nobody), T0));

        AwaitAssert(() => Assert.Equal(101, TelemetryRecordingReader.Read(_directory, T0, T0.AddHours(1), null, null, 1000).Records.Count), Wait);
        recorder.Tell(new GetRecording(T0, T0.AddHours(1), Host, null, 60));
        var first = ExpectMsg<RecordingPage>(Wait);
        recorder.Tell(new GetRecording(T0, T0.AddHours(1), Host, first.NextCursor, 60));
        var second = ExpectMsg<RecordingPage>(Wait);

        Assert.True(first.Enabled);
        Assert.Equal(60, first.Records.Length);
        Assert.NotNull(first.NextCursor);
        Assert.Equal(41, second.Records.Length);
        Assert.Null(second.NextCursor);
        Assert.Equal(3, second.Records.Single(r => r.Kind == RecordKind.Registration).Priority);
    }

    [Fact]
    public void A_directory_it_cannot_write_is_logged_once_and_counted_and_recording_goes_on_when_it_can()
    {
        Directory.CreateDirectory(_directory);
        var blocker = Path.Combine(_directory, "not-a-directory");
        File.WriteAllText(blocker, "a file where the recording directory should be");
        var config = new RecordingConfig { Enabled = true, Directory = Path.Combine(blocker, "recording"), FlushInterval = TimeSpan.FromMilliseconds(50) };
        var recorder = Sys.ActorOf(TelemetryRecorderActor.Props(config));

        string Exposition()
        {
            using var exposition = new MemoryStream();
            Metrics.GovernorMetrics.Get(Sys).Registry.CollectAndExportAsTextAsync(exposition).Wait(Wait);
            return System.Text.Encoding.UTF8.GetString(exposition.ToArray());
        }

        // Three flushes fail: one warning, every failure counted, every record counted as dropped.
        EventFilter.Warning(contains: "Telemetry recording: cannot write to").Expect(1, Wait, () =>
        {
            for (var i = 1; i <= 3; i++)
            {
                recorder.Tell(SampleAt(i));
                AwaitAssert(() => Assert.Contains($"scarcity_recording_write_errors_total {i}", Exposition()), Wait);
            }
        });
        Assert.Contains("scarcity_recording_records_dropped_total 3", Exposition());
        recorder.Tell(new GetRecording(T0, T0.AddHours(1), null, null, 10));
        Assert.Empty(ExpectMsg<RecordingPage>(Wait).Records); // nothing was recorded

        File.Delete(blocker); // the disk is writable again
        recorder.Tell(SampleAt(100));
        AwaitAssert(() => Assert.Single(TelemetryRecordingReader.Read(config.Directory, T0, T0.AddHours(1), null, null, 10).Records), Wait);
    }

    [Fact]
    public void A_full_page_fits_in_one_remoting_frame()
    {
        var config = new RecordingConfig { Enabled = true, Directory = _directory, FlushInterval = TimeSpan.FromMilliseconds(50) };
        var recorder = Sys.ActorOf(TelemetryRecorderActor.Props(config));
        string[] series = ["cpu_util", "mem_util", "mem_available_gb", "swap_util", "gpu_util", "vram_util{gpu=\"0\"}", "disk_read_mb", "disk_write_mb", "net_sent_mb", "psi_mem"];
        for (var i = 0; i < 3000; i++)
            recorder.Tell(new Sample($"gpu-host-{i % 50:D3}.rack-12.example.org", T0.AddSeconds(i * 0.01),
                [.. series.Select(s => new MetricValue(s, 1.0 / 3 + i))], ["psi_io{device=\"nvme0n1\"}"]));

        AwaitAssert(() =>
        {
            recorder.Tell(new GetRecording(T0, T0.AddHours(1), null, null, TelemetryRecorderActor.MaxPageRecords));
            var page = ExpectMsg<RecordingPage>(Wait);
            Assert.NotNull(page.NextCursor); // cut by its size, not its count
            var serializer = Sys.Serialization.FindSerializerFor(page);
            var size = serializer.ToBinary(page).Length;
            Assert.InRange(size, ScarcitySerialization.MaximumFrameSize / 4, ScarcitySerialization.MaximumFrameSize * 3 / 4);
        }, Wait);
    }

    [Fact]
    public void Off_the_recorder_answers_an_empty_page_that_says_so_and_writes_nothing()
    {
        var recorder = Sys.ActorOf(TelemetryRecorderActor.Props(new RecordingConfig { Directory = _directory }));
        recorder.Tell(SampleAt(1));

        recorder.Tell(new GetRecording(T0, T0.AddHours(1), null, null, 10));

        var page = ExpectMsg<RecordingPage>(Wait);
        Assert.False(page.Enabled);
        Assert.Empty(page.Records);
        Assert.False(Directory.Exists(_directory));
    }
}
