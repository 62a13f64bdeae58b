using System.Diagnostics;
using System.Globalization;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Replay;

namespace Scarcity.Actors.Benchmarks;

/// <summary>
/// <c>--recording [--hosts 500] [--seconds 60]</c>: the telemetry recording's core on real files: bytes per sample and
/// write rate (10 series a host, 4 Hz, one frame a second as the recorder writes), paged reads (all hosts, one host),
/// and a replay of it all under the default policy with one subsystem per host (docs/policies.md (Replay)).
/// </summary>
internal static class RecordingBenchmark
{
    private static readonly string[] Series =
        ["cpu_util", "mem_util", "mem_available_gb", "swap_util", "gpu_util", "vram_util", "disk_read_mb", "disk_write_mb", "net_sent_mb", "net_recv_mb"];

    public static int Run(string[] args)
    {
        int Arg(string name, int fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
        var hosts = Arg("--hosts", 500);
        var seconds = Arg("--seconds", 60);
        var directory = Path.Combine(Path.GetTempPath(), $"scarcity-recording-bench-{Guid.NewGuid():N}");
        var t0 = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
        var random = new Random(1);
        try
        {
            var watch = Stopwatch.StartNew();
            long written = 0;
            using (var writer = new TelemetryRecordingWriter(new RecordingConfig { Enabled = true, Directory = directory }))
                for (var s = 0; s < seconds; s++)
                {
                    var frame = new List<TelemetryRecord>(hosts * 4);
                    for (var q = 0; q < 4; q++)
                        for (var h = 0; h < hosts; h++)
                            frame.Add(TelemetryRecord.Of(new Sample($"gpu-{h:D4}", t0.AddSeconds(s + q * 0.25), [.. Series.Select(n => new MetricValue(n, random.NextDouble()))], [])));
                    writer.Append(frame);
                    written += frame.Count;
                }
            var writeSeconds = watch.Elapsed.TotalSeconds;
            var bytes = TelemetryRecordingFormat.Segments(directory).Sum(s => new FileInfo(s.Path).Length);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"write: {written} samples ({hosts} hosts x 10 series x 4 Hz x {seconds} s) in {writeSeconds:0.00} s = {written / writeSeconds:0} samples/s; " +
                $"{bytes} bytes = {bytes / (double)written:0.0} B/sample, {bytes / (double)seconds / 1024:0} KiB/s, {bytes / (double)seconds / hosts * 86400 / 1048576:0.0} MiB per host per day"));

            watch.Restart();
            var all = Read(directory, t0, null, 5000);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"read, all hosts (pages of 5000 / 64 kB): {all.Count} records in {watch.Elapsed.TotalSeconds:0.00} s = {all.Count / watch.Elapsed.TotalSeconds:0} records/s"));
            watch.Restart();
            var one = Read(directory, t0, "gpu-0007", 2000);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"read, --host gpu-0007: {one.Count} records in {watch.Elapsed.TotalSeconds:0.00} s"));

            var records = Enumerable.Range(0, hosts)
                .Select(h => TelemetryRecord.Of(new RegisterSubsystem($"engine-{h}", $"gpu-{h:D4}", 1, ["reduce_batch", "throttle", "shed_load"], Akka.Actor.ActorRefs.Nobody), t0))
                .Concat(all).ToList();
            watch.Restart();
            var result = RecordedReplay.Run(records, new DRGConfig());
            var replaySeconds = watch.Elapsed.TotalSeconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"replay, default policy, {hosts} subsystems: {result.Records} records in {replaySeconds:0.00} s = {result.Records / replaySeconds:0} records/s " +
                $"({seconds / replaySeconds:0.0}x real time for {hosts} hosts), {result.Decisions.Count} decisions"));
            return 0;
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    private static List<TelemetryRecord> Read(string directory, DateTimeOffset t0, string? host, int page)
    {
        var all = new List<TelemetryRecord>();
        string? cursor = null;
        do
        {
            var read = TelemetryRecordingReader.Read(directory, t0, t0.AddDays(1), host, cursor, page);
            all.AddRange(read.Records);
            cursor = read.NextCursor;
        } while (cursor is not null);
        return all;
    }
}
