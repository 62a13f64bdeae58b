using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Globalization;
using System.IO.Hashing;
using System.Text;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Replay;

/// <summary>
/// The telemetry recording's file format (docs/policies.md (Replay)): a directory of append-only segment files
/// <c>telemetry-&lt;10-digit sequence&gt;-&lt;start yyyyMMddTHHmmssfffZ&gt;.rec</c>, each an 8-byte header
/// (<see cref="Magic"/>) and frames. A frame is <c>uint32 LE payload length, uint32 LE CRC-32 of the payload, payload</c>;
/// the payload is <c>byte flags (1: holds registrations), int64 first and last record time (UTC ticks), 7-bit count</c>
/// then the records, each <c>byte kind, string host, int64 UTC ticks</c> and what its kind holds. Strings are written
/// once per frame (7-bit index into the frame's table; the next new index is followed by its 7-bit UTF-8 length and
/// bytes), so a frame decodes alone. A torn last frame (a crash mid-write) or one whose CRC fails ends its segment.
/// </summary>
public static class TelemetryRecordingFormat
{
    /// <summary>The first 8 bytes of every segment: <c>SCREC</c>, two zero bytes, the format version 1.</summary>
    public static ReadOnlySpan<byte> Magic => "SCREC\0\0\u0001"u8;

    /// <summary>The segment file name's extension.</summary>
    public const string Extension = ".rec";

    internal const int FrameHeaderBytes = 8;

    /// <summary>The file name of segment <paramref name="sequence"/> begun at <paramref name="start"/>.</summary>
    public static string SegmentName(long sequence, DateTimeOffset start) =>
        string.Create(CultureInfo.InvariantCulture, $"telemetry-{sequence:D10}-{start.UtcDateTime:yyyyMMdd'T'HHmmssfff}Z{Extension}");

    /// <summary>The segments of <paramref name="directory"/>, oldest first, with their sequence and start time.</summary>
    public static IReadOnlyList<(long Sequence, DateTimeOffset Start, string Path)> Segments(string directory)
    {
        if (!Directory.Exists(directory)) return [];
        var found = new List<(long, DateTimeOffset, string)>();
        foreach (var path in Directory.EnumerateFiles(directory, "telemetry-*" + Extension))
        {
            var parts = Path.GetFileNameWithoutExtension(path).Split('-');
            if (parts.Length != 3 || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var sequence)) continue;
            if (!DateTimeOffset.TryParseExact(parts[2], "yyyyMMdd'T'HHmmssfff'Z'", CultureInfo.InvariantCulture,
                    DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var start)) continue;
            found.Add((sequence, start, path));
        }
        found.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return found;
    }

    /// <summary>One frame's payload holding <paramref name="records"/> (at least one).</summary>
    internal static byte[] EncodeFrame(IReadOnlyList<TelemetryRecord> records)
    {
        var payload = new MemoryStream(64 + records.Count * 96);
        using (var w = new BinaryWriter(payload, Encoding.UTF8, leaveOpen: true))
        {
            var strings = new Dictionary<string, int>(StringComparer.Ordinal);
            void Str(string s)
            {
                if (strings.TryGetValue(s, out var index))
                {
                    w.Write7BitEncodedInt(index);
                    return;
                }
                w.Write7BitEncodedInt(strings.Count);
                strings.Add(s, strings.Count);
                w.Write(s); // 7-bit length prefix, UTF-8
            }

            var first = long.MaxValue;
            var last = long.MinValue;
            var registrations = false;
            foreach (var r in records)
            {
                first = Math.Min(first, r.At.UtcTicks);
                last = Math.Max(last, r.At.UtcTicks);
                registrations |= r.Kind == RecordKind.Registration;
            }
            w.Write((byte)(registrations ? 1 : 0));
            w.Write(first);
            w.Write(last);
            w.Write7BitEncodedInt(records.Count);
            foreach (var r in records)
            {
                w.Write((byte)r.Kind);
                Str(r.Host);
                w.Write(r.At.UtcTicks);
                switch (r.Kind)
                {
                    case RecordKind.Sample:
                        w.Write7BitEncodedInt(r.Values.Length);
                        foreach (var v in r.Values)
                        {
                            Str(v.Metric);
                            w.Write(v.Value);
                        }
                        var stale = r.Stale.IsDefault ? [] : r.Stale;
                        w.Write7BitEncodedInt(stale.Length);
                        foreach (var s in stale) Str(s);
                        break;
                    case RecordKind.Report:
                        Str(r.Subsystem);
                        w.Write7BitEncodedInt(r.Values.Length);
                        foreach (var v in r.Values)
                        {
                            Str(v.Metric);
                            w.Write(v.Value);
                        }
                        break;
                    case RecordKind.Registration:
                        Str(r.Subsystem);
                        w.Write(r.Priority);
                        var actions = r.Actions.IsDefault ? [] : r.Actions;
                        w.Write7BitEncodedInt(actions.Length);
                        foreach (var a in actions) Str(a);
                        w.Write(r.LatencyObjectiveMs.HasValue);
                        if (r.LatencyObjectiveMs is { } objective) w.Write(objective);
                        break;
                    case RecordKind.Evaluated:
                        break;
                    default:
                        throw new ArgumentException($"unknown record kind {r.Kind}", nameof(records));
                }
            }
        }
        return payload.ToArray();
    }

    /// <summary>The frame header of a payload: length and CRC-32.</summary>
    internal static void WriteFrameHeader(Span<byte> header, ReadOnlySpan<byte> payload)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], Crc32.HashToUInt32(payload));
    }

    /// <summary>A frame payload's flags and time range, without decoding its records.</summary>
    internal static (bool Registrations, long First, long Last) PeekFrame(ReadOnlySpan<byte> payload) =>
        (payload[0] != 0, BinaryPrimitives.ReadInt64LittleEndian(payload[1..]), BinaryPrimitives.ReadInt64LittleEndian(payload[9..]));

    /// <summary>Decodes a frame payload's records.</summary>
    /// <exception cref="InvalidDataException">The payload does not decode (its CRC matched, so a format mismatch).</exception>
    internal static List<TelemetryRecord> DecodeFrame(byte[] payload)
    {
        try
        {
            using var r = new BinaryReader(new MemoryStream(payload), Encoding.UTF8);
            var strings = new List<string>();
            string Str()
            {
                var index = r.Read7BitEncodedInt();
                if (index < strings.Count) return strings[index];
                if (index != strings.Count) throw new InvalidDataException($"string index {index} skips the table's next ({strings.Count})");
                var s = r.ReadString();
                strings.Add(s);
                return s;
            }

            r.ReadByte();
            r.ReadInt64();
            r.ReadInt64();
            var count = r.Read7BitEncodedInt();
            var records = new List<TelemetryRecord>(count);
            for (var i = 0; i < count; i++)
            {
                var kind = (RecordKind)r.ReadByte();
                var host = Str();
                var at = new DateTimeOffset(r.ReadInt64(), TimeSpan.Zero);
                switch (kind)
                {
                    case RecordKind.Sample:
                    {
                        var values = ImmutableArray.CreateBuilder<MetricValue>(r.Read7BitEncodedInt());
                        for (var n = values.Capacity; n > 0; n--) values.Add(new MetricValue(Str(), r.ReadDouble()));
                        var stale = ImmutableArray.CreateBuilder<string>(r.Read7BitEncodedInt());
                        for (var n = stale.Capacity; n > 0; n--) stale.Add(Str());
                        records.Add(new TelemetryRecord(kind, host, at, values.MoveToImmutable(), stale.MoveToImmutable(), "", 0, [], null));
                        break;
                    }
                    case RecordKind.Report:
                    {
                        var subsystem = Str();
                        var values = ImmutableArray.CreateBuilder<MetricValue>(r.Read7BitEncodedInt());
                        for (var n = values.Capacity; n > 0; n--) values.Add(new MetricValue(Str(), r.ReadDouble()));
                        records.Add(new TelemetryRecord(kind, host, at, values.MoveToImmutable(), [], subsystem, 0, [], null));
                        break;
                    }
                    case RecordKind.Registration:
                    {
                        var subsystem = Str();
                        var priority = r.ReadInt32();
                        var actions = ImmutableArray.CreateBuilder<string>(r.Read7BitEncodedInt());
                        for (var n = actions.Capacity; n > 0; n--) actions.Add(Str());
                        double? objective = r.ReadBoolean() ? r.ReadDouble() : null;
                        records.Add(new TelemetryRecord(kind, host, at, [], [], subsystem, priority, actions.MoveToImmutable(), objective));
                        break;
                    }
                    case RecordKind.Evaluated:
                        records.Add(TelemetryRecord.EvaluatedAt(host, at));
                        break;
                    default:
                        throw new InvalidDataException($"unknown record kind {(int)kind}");
                }
            }
            return records;
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("a frame ends inside a record", e);
        }
    }
}

/// <summary>
/// Appends records to a recording directory in <see cref="TelemetryRecordingFormat"/>: one frame per
/// <see cref="Append"/>, a new segment when the current one reaches <see cref="RecordingConfig.SegmentBytes"/> or
/// <see cref="RecordingConfig.SegmentAge"/>, and the oldest segments deleted while the directory holds more than
/// <see cref="RecordingConfig.MaxBytes"/> or a segment's successor began more than <see cref="RecordingConfig.MaxAge"/>
/// ago. Each new segment begins with the newest registration of every subsystem, so a replay that starts inside it knows
/// what is governed. Not thread-safe: one recorder actor owns it.
/// </summary>
public sealed class TelemetryRecordingWriter : IDisposable
{
    private readonly RecordingConfig _config;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, TelemetryRecord> _registrations = new(StringComparer.Ordinal);
    private FileStream? _segment;
    private long _sequence;
    private DateTimeOffset _segmentStart;

    /// <summary>Opens <see cref="RecordingConfig.Directory"/> (creating it); the first <see cref="Append"/> begins a segment.</summary>
    /// <exception cref="IOException">The directory cannot be created.</exception>
    /// <exception cref="UnauthorizedAccessException">The directory cannot be created.</exception>
    public TelemetryRecordingWriter(RecordingConfig config, TimeProvider? time = null)
    {
        _config = config;
        _time = time ?? TimeProvider.System;
        Directory.CreateDirectory(config.Directory);
        var existing = TelemetryRecordingFormat.Segments(config.Directory);
        _sequence = existing.Count == 0 ? 0 : existing[^1].Sequence;
        // Registrations live on across restarts: the newest segment carries every one known when it began.
        if (existing.Count > 0)
            foreach (var r in TelemetryRecordingReader.ReadSegment(existing[^1].Path).Where(r => r.Kind == RecordKind.Registration))
                _registrations[r.Subsystem] = r;
    }

    /// <summary>Bytes in the directory's segments now.</summary>
    public long TotalBytes => TelemetryRecordingFormat.Segments(_config.Directory).Sum(s => new FileInfo(s.Path).Length);

    /// <summary>Appends <paramref name="records"/> as one frame (nothing for none) and flushes it to the file.</summary>
    /// <exception cref="IOException">The write failed (a full disk); the frame may be torn, and the next append begins a new segment.</exception>
    /// <exception cref="UnauthorizedAccessException">The directory is not writable.</exception>
    public void Append(IReadOnlyList<TelemetryRecord> records)
    {
        if (records.Count == 0) return;
        var now = _time.GetUtcNow();
        if (_segment is null || _segment.Length >= _config.SegmentBytes || now - _segmentStart >= _config.SegmentAge) Begin(now);
        foreach (var r in records)
            if (r.Kind == RecordKind.Registration) _registrations[r.Subsystem] = r;
        try
        {
            Write(TelemetryRecordingFormat.EncodeFrame(records));
        }
        catch
        {
            // A torn frame ends its segment for readers; the next append starts a clean one.
            CloseSegment();
            throw;
        }
    }

    private void Write(byte[] payload)
    {
        Span<byte> header = stackalloc byte[TelemetryRecordingFormat.FrameHeaderBytes];
        TelemetryRecordingFormat.WriteFrameHeader(header, payload);
        _segment!.Write(header);
        _segment.Write(payload);
        _segment.Flush();
    }

    private void Begin(DateTimeOffset now)
    {
        CloseSegment();
        _sequence++;
        _segmentStart = now;
        var path = Path.Combine(_config.Directory, TelemetryRecordingFormat.SegmentName(_sequence, now));
        _segment = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read | FileShare.Delete);
        _segment.Write(TelemetryRecordingFormat.Magic);
        if (_registrations.Count > 0) Write(TelemetryRecordingFormat.EncodeFrame([.. _registrations.Values]));
        _segment.Flush();
        Enforce(now);
    }

    /// <summary>Deletes the oldest closed segments while over the size bound or past the age bound.</summary>
    private void Enforce(DateTimeOffset now)
    {
        var segments = TelemetryRecordingFormat.Segments(_config.Directory);
        var sizes = segments.Select(s => new FileInfo(s.Path).Length).ToList();
        var total = sizes.Sum();
        for (var i = 0; i < segments.Count - 1; i++) // never the current one
        {
            var endedAt = segments[i + 1].Start; // a segment ends where its successor begins
            if (total <= _config.MaxBytes && now - endedAt <= _config.MaxAge) break;
            File.Delete(segments[i].Path);
            total -= sizes[i];
        }
    }

    private void CloseSegment()
    {
        try
        {
            _segment?.Dispose();
        }
        catch (IOException)
        {
            // Closing flushes nothing more: every frame was flushed when written.
        }
        _segment = null;
    }

    /// <inheritdoc />
    public void Dispose() => CloseSegment();
}

/// <summary>One page read from a recording directory.</summary>
/// <param name="Records">The records, in file order.</param>
/// <param name="NextCursor">Where the next page begins; null when the directory holds nothing more.</param>
/// <param name="Problems">Segments whose tail was not read (a torn or corrupt frame), with why.</param>
public sealed record RecordingRead(IReadOnlyList<TelemetryRecord> Records, string? NextCursor, IReadOnlyList<string> Problems);

/// <summary>Reads a recording directory written by <see cref="TelemetryRecordingWriter"/>, in bounded pages.</summary>
public static class TelemetryRecordingReader
{
    /// <summary>
    /// The records at <paramref name="from"/> .. <paramref name="to"/> (registrations at or before <paramref name="to"/>,
    /// whenever made), of <paramref name="host"/> when given, from <paramref name="cursor"/> on, at most
    /// <paramref name="maxRecords"/> and stopping after about <paramref name="maxBytes"/> of readings.
    /// </summary>
    /// <param name="directory">The recording directory.</param>
    /// <param name="from">Earliest record time.</param>
    /// <param name="to">Latest record time.</param>
    /// <param name="host">One host, or null for all.</param>
    /// <param name="cursor">A previous page's <see cref="RecordingRead.NextCursor"/>, or null.</param>
    /// <param name="maxRecords">At most this many records (at least 1).</param>
    /// <param name="maxBytes">Stop once the records would take about this many bytes as the JSON of a <see cref="RecordingPage"/> (64 kB: half of remoting's frame).</param>
    /// <exception cref="FormatException"><paramref name="cursor"/> is not one this reader wrote.</exception>
    public static RecordingRead Read(string directory, DateTimeOffset from, DateTimeOffset to, string? host, string? cursor, int maxRecords, int maxBytes = 64_000)
    {
        var (startSequence, startOffset, skip) = ParseCursor(cursor);
        var records = new List<TelemetryRecord>();
        var problems = new List<string>();
        var bytes = 0;
        foreach (var (sequence, _, path) in TelemetryRecordingFormat.Segments(directory))
        {
            if (sequence < startSequence) continue;
            FileStream file;
            try
            {
                file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (FileNotFoundException)
            {
                continue; // deleted by the size or age bound meanwhile
            }
            using (file)
            {
                long offset = sequence == startSequence && startOffset > 0 ? startOffset : TelemetryRecordingFormat.Magic.Length;
                if (!HasMagic(file))
                {
                    problems.Add($"{Path.GetFileName(path)}: not a recording segment (header)");
                    continue;
                }
                var frameSkip = sequence == startSequence && startOffset > 0 ? skip : 0;
                while (true)
                {
                    var (payload, problem) = ReadFrame(file, offset);
                    if (payload is null)
                    {
                        if (problem is not null) problems.Add($"{Path.GetFileName(path)} at byte {offset}: {problem}");
                        break;
                    }
                    var (registrations, first, last) = TelemetryRecordingFormat.PeekFrame(payload);
                    var frameRecords = first > to.UtcTicks || (last < from.UtcTicks && !registrations)
                        ? []
                        : Decoded(path, offset, payload);
                    for (var i = frameSkip; i < frameRecords.Count; i++)
                    {
                        var r = frameRecords[i];
                        if (r.At > to || (r.At < from && r.Kind != RecordKind.Registration)) continue;
                        if (host is not null && r.Host != host) continue;
                        if (records.Count >= maxRecords || bytes >= maxBytes) return new RecordingRead(records, Cursor(sequence, offset, i), problems);
                        records.Add(r);
                        bytes += WireSize(r);
                    }
                    frameSkip = 0;
                    offset += TelemetryRecordingFormat.FrameHeaderBytes + payload.Length;
                }
            }
        }
        return new RecordingRead(records, null, problems);
    }

    // A page that ends inside a frame leaves the rest of it for the next page: the frame last decoded is kept (records
    // are immutable), so paging through a frame of thousands of records decodes it once, not once per page.
    private static readonly Lock LastDecodedLock = new();
    private static (string Path, long Offset, int Length, List<TelemetryRecord> Records)? _lastDecoded;

    private static List<TelemetryRecord> Decoded(string path, long offset, byte[] payload)
    {
        lock (LastDecodedLock)
            if (_lastDecoded is { } last && last.Path == path && last.Offset == offset && last.Length == payload.Length) return last.Records;
        var records = TelemetryRecordingFormat.DecodeFrame(payload);
        lock (LastDecodedLock) _lastDecoded = (path, offset, payload.Length, records);
        return records;
    }

    /// <summary>About the bytes <paramref name="r"/> takes in a <see cref="RecordingPage"/>'s JSON (a little more, never less).</summary>
    internal static int WireSize(TelemetryRecord r) =>
        200 + 2 * (r.Host.Length + r.Subsystem.Length)
        + (r.Values.IsDefault ? 0 : r.Values.Sum(v => 2 * v.Metric.Length + 56))
        + (r.Stale.IsDefault ? 0 : r.Stale.Sum(v => 2 * v.Length + 4))
        + (r.Actions.IsDefault ? 0 : r.Actions.Sum(v => 2 * v.Length + 4));

    /// <summary>Every record of one segment file (the writer reads the newest segment's registrations at start-up).</summary>
    public static IReadOnlyList<TelemetryRecord> ReadSegment(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (!HasMagic(file)) return [];
        var records = new List<TelemetryRecord>();
        long offset = TelemetryRecordingFormat.Magic.Length;
        while (ReadFrame(file, offset).Payload is { } payload)
        {
            records.AddRange(TelemetryRecordingFormat.DecodeFrame(payload));
            offset += TelemetryRecordingFormat.FrameHeaderBytes + payload.Length;
        }
        return records;
    }

    private static bool HasMagic(FileStream file)
    {
        Span<byte> magic = stackalloc byte[8];
        file.Position = 0;
        return file.ReadAtLeast(magic, 8, throwOnEndOfStream: false) == 8 && magic.SequenceEqual(TelemetryRecordingFormat.Magic);
    }

    // A frame that is not all there yet (being written, or torn by a crash) ends the segment quietly; a CRC that fails says so.
    private static (byte[]? Payload, string? Problem) ReadFrame(FileStream file, long offset)
    {
        if (offset + TelemetryRecordingFormat.FrameHeaderBytes > file.Length) return (null, null);
        Span<byte> header = stackalloc byte[TelemetryRecordingFormat.FrameHeaderBytes];
        file.Position = offset;
        file.ReadExactly(header);
        var length = BinaryPrimitives.ReadUInt32LittleEndian(header);
        var crc = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        if (length < 17 || offset + TelemetryRecordingFormat.FrameHeaderBytes + length > file.Length) return (null, length < 17 ? $"a frame of {length} bytes" : null);
        var payload = new byte[length];
        file.ReadExactly(payload);
        return Crc32.HashToUInt32(payload) == crc ? (payload, null) : (null, "CRC-32 mismatch (a corrupt frame): the rest of the segment is skipped");
    }

    private static string Cursor(long sequence, long offset, int skip) => string.Create(CultureInfo.InvariantCulture, $"{sequence}:{offset}:{skip}");

    private static (long Sequence, long Offset, int Skip) ParseCursor(string? cursor)
    {
        if (cursor is null) return (0, 0, 0);
        var parts = cursor.Split(':');
        if (parts.Length == 3 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var sequence)
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
            && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var skip))
            return (sequence, offset, skip);
        throw new FormatException($"'{cursor}' is not a recording cursor (sequence:offset:skip)");
    }
}
