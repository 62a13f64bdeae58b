using System.Collections.Immutable;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Replay;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Replay;

/// <summary>The recording's segment files, on disk: what is written reads back, and the size and age bounds hold.</summary>
public sealed class TelemetryRecordingSpecs : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"scarcity-recording-{Guid.NewGuid():N}");
    private readonly ManualClock _clock = new(T0);

    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }

    private RecordingConfig Config(long maxBytes = 1L << 30, TimeSpan? maxAge = null) =>
        new() { Enabled = true, Directory = _directory, MaxBytes = maxBytes, MaxAge = maxAge ?? TimeSpan.FromDays(1) };

    private static TelemetryRecord SampleAt(string host, int i) => TelemetryRecord.Of(new Sample(host, T0.AddSeconds(i * 0.25),
        [new(MetricNames.VramUtil, 0.5 + i * 1e-3), new(MetricNames.CpuUtil, 0.25), new("vram_util{gpu=\"0\"}", 0.5 + i * 1e-3)], []));

    private static TelemetryRecord Registration(string subsystem, string host, DateTimeOffset at) =>
        TelemetryRecord.Of(new RegisterSubsystem(subsystem, host, 1, ["reduce_batch", "throttle"], Akka.Actor.ActorRefs.Nobody, 300), at);

    private IReadOnlyList<TelemetryRecord> ReadAll(DateTimeOffset? from = null, string? host = null, int page = 1000)
    {
        var all = new List<TelemetryRecord>();
        string? cursor = null;
        do
        {
            var read = TelemetryRecordingReader.Read(_directory, from ?? DateTimeOffset.MinValue, DateTimeOffset.MaxValue, host, cursor, page);
            all.AddRange(read.Records);
            cursor = read.NextCursor;
        } while (cursor is not null);
        return all;
    }

    private static string Shape(TelemetryRecord r) =>
        $"{r.Kind} {r.Host} {r.At.UtcTicks} {r.Subsystem} {r.Priority} {string.Join(",", r.Values)} {string.Join(",", r.Stale)} {string.Join(",", r.Actions)} {r.LatencyObjectiveMs}";

    [Fact]
    public void Every_kind_of_record_reads_back_as_written_in_pages_of_any_size()
    {
        var records = new List<TelemetryRecord> { Registration("engine", "gpu-01", T0) };
        for (var i = 0; i < 50; i++)
        {
            records.Add(SampleAt("gpu-01", i));
            records.Add(TelemetryRecord.Of(new ReportMetrics("engine", "gpu-01", ImmutableDictionary<string, double>.Empty.Add("latency_ms", 100 + i), T0.AddSeconds(i * 0.25 + 0.1))));
        }
        records.Add(TelemetryRecord.Of(new Sample("gpu-01", T0.AddSeconds(20), [new(MetricNames.CpuUtil, double.NaN)], ["psi_io"])));
        records.Add(TelemetryRecord.EvaluatedAt("gpu-01", T0.AddSeconds(21)));
        using (var writer = new TelemetryRecordingWriter(Config(), _clock))
            foreach (var chunk in records.Chunk(7)) writer.Append(chunk);

        Assert.Equal(records.Select(Shape), ReadAll(page: 1000).Select(Shape));
        Assert.Equal(records.Select(Shape), ReadAll(page: 3).Select(Shape)); // a page may end inside a frame
    }

    [Fact]
    public void The_size_bound_deletes_the_oldest_segments_and_a_new_segment_carries_the_registrations()
    {
        var config = Config(maxBytes: RecordingConfig.MinimumBytes); // segments of 16 KiB, 64 KiB in all
        using var writer = new TelemetryRecordingWriter(config, _clock);
        writer.Append([Registration("engine", "gpu-01", T0)]);
        for (var i = 0; i < 4000; i++)
        {
            writer.Append([SampleAt("gpu-01", i)]);
            Assert.True(writer.TotalBytes <= config.MaxBytes + config.SegmentBytes + 1024, $"{writer.TotalBytes} bytes after {i} appends");
        }

        var segments = TelemetryRecordingFormat.Segments(_directory);
        Assert.True(segments.Count is >= 4 and <= 6, $"{segments.Count} segments");
        Assert.True(segments[0].Sequence > 1, "the oldest segments were deleted");
        var read = ReadAll();
        // The newest samples are all there, the oldest gone; the registration made before them still comes first.
        Assert.Equal(RecordKind.Registration, read[0].Kind);
        Assert.Equal("engine", read[0].Subsystem);
        var samples = read.Where(r => r.Kind == RecordKind.Sample).ToList();
        Assert.Equal(SampleAt("gpu-01", 3999).At, samples[^1].At);
        Assert.True(samples[0].At > T0, "the first samples were deleted with their segment");
        Assert.Equal(samples.Count, samples.Select(s => s.At).Distinct().Count());
    }

    [Fact]
    public void The_age_bound_deletes_segments_whose_successor_began_longer_ago_than_MaxAge()
    {
        var config = Config(maxAge: TimeSpan.FromMinutes(10)); // a new segment every minute
        using var writer = new TelemetryRecordingWriter(config, _clock);
        for (var minute = 0; minute < 30; minute++)
        {
            _clock.Now = T0.AddMinutes(minute);
            writer.Append([SampleAt("gpu-01", minute * 240)]);
        }

        var segments = TelemetryRecordingFormat.Segments(_directory);
        Assert.All(segments.SkipLast(1).Zip(segments.Skip(1)), pair => Assert.True(_clock.Now - pair.Second.Start <= config.MaxAge, $"{pair.First.Path} kept too long"));
        Assert.InRange(segments.Count, 10, 12);
        Assert.Equal(segments.Count, ReadAll().Count);
    }

    [Fact]
    public void A_torn_last_frame_ends_its_segment_and_a_corrupt_one_is_reported()
    {
        using (var writer = new TelemetryRecordingWriter(Config(), _clock))
            for (var i = 0; i < 10; i++) writer.Append([SampleAt("gpu-01", i)]);
        var path = TelemetryRecordingFormat.Segments(_directory).Single().Path;
        var length = new FileInfo(path).Length;
        using (var file = new FileStream(path, FileMode.Open)) file.SetLength(length - 5); // a crash mid-write

        Assert.Equal(9, ReadAll().Count);

        var bytes = File.ReadAllBytes(path);
        bytes[TelemetryRecordingFormat.Magic.Length + 8 + 20] ^= 0xFF; // inside the first frame's payload
        File.WriteAllBytes(path, bytes);
        var read = TelemetryRecordingReader.Read(_directory, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, null, null, 100);
        Assert.Empty(read.Records);
        Assert.Contains("CRC-32 mismatch", Assert.Single(read.Problems));
    }

    [Fact]
    public void Reading_a_window_and_a_host_returns_only_those_records_with_the_registrations_before_it()
    {
        using (var writer = new TelemetryRecordingWriter(Config(), _clock))
        {
            writer.Append([Registration("engine", "gpu-01", T0)]);
            for (var i = 0; i < 40; i++) writer.Append([SampleAt("gpu-01", i), SampleAt("gpu-02", i)]);
        }

        var read = ReadAll(from: T0.AddSeconds(5), host: "gpu-01");

        Assert.Equal(RecordKind.Registration, read[0].Kind);
        Assert.All(read.Skip(1), r => Assert.Equal("gpu-01", r.Host));
        Assert.Equal(20, read.Count(r => r.Kind == RecordKind.Sample)); // 5 s .. 9.75 s
    }

    [Fact]
    public void Validation_names_every_bad_key()
    {
        var config = new RecordingConfig { Enabled = true, Directory = " ", MaxBytes = 10, MaxAge = TimeSpan.FromSeconds(5), FlushInterval = TimeSpan.Zero };

        var errors = config.Validate(RecordingConfig.Section).ToList();

        Assert.Equal(4, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("Scarcity:Recording:Directory", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Scarcity:Recording:MaxBytes must be at least 65536", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Scarcity:Recording:MaxAge", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Scarcity:Recording:FlushInterval", StringComparison.Ordinal));
    }
}
