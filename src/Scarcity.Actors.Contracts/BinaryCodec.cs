using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Runtime.Serialization;
using System.Text;

namespace Scarcity.Actors.Contracts;

/// <summary>
/// A compact binary form of the messages sent once per sample (samples, profiles, telemetry and its digests): a fleet
/// of 500 hosts at 4 Hz sends thousands a second, and JSON made each several times larger and slower to read. None of
/// them is persisted. Layout: fixed-width little-endian numbers, strings as UTF-8 with a 7-bit length prefix, times as
/// UTC ticks plus the offset in minutes, collections as a count then the items.
/// </summary>
internal static class BinaryCodec
{
    public const string SampleManifest = "sample.b1";
    public const string HostProfileManifest = "host-profile.b1";
    public const string TelemetryManifest = "telemetry.b1";
    public const string TelemetryDigestManifest = "telemetry-digest.b1";
    public const string EvaluateProfileManifest = "evaluate-profile.b1";

    public static readonly FrozenDictionary<Type, string> ManifestByType = new Dictionary<Type, string>
    {
        [typeof(Sample)] = SampleManifest,
        [typeof(HostProfile)] = HostProfileManifest,
        [typeof(TelemetryPublished)] = TelemetryManifest,
        [typeof(TelemetryDigest)] = TelemetryDigestManifest,
        [typeof(EvaluateProfile)] = EvaluateProfileManifest,
    }.ToFrozenDictionary();

    private static readonly UTF8Encoding Utf8 = new(false, true);

    public static byte[] Write(object message)
    {
        using var stream = new MemoryStream(256);
        using (var w = new BinaryWriter(stream, Utf8, leaveOpen: true))
        {
            switch (message)
            {
                case Sample s:
                    w.Write(s.Host);
                    WriteTime(w, s.At);
                    w.Write(s.Values.Length);
                    foreach (var v in s.Values)
                    {
                        w.Write(v.Metric);
                        w.Write(v.Value);
                    }
                    w.Write(s.Stale.IsDefault ? 0 : s.Stale.Length);
                    if (!s.Stale.IsDefault)
                        foreach (var series in s.Stale) w.Write(series);
                    break;
                case HostProfile p:
                    WriteProfile(w, p);
                    break;
                case TelemetryPublished t:
                    WriteTelemetry(w, t);
                    break;
                case TelemetryDigest d:
                    w.Write(d.Node);
                    WriteTime(w, d.At);
                    w.Write(d.Hosts.Length);
                    foreach (var t in d.Hosts) WriteTelemetry(w, t);
                    break;
                case EvaluateProfile e:
                    w.Write(e.Subsystem);
                    WriteProfile(w, e.Profile);
                    break;
                default:
                    throw new ArgumentException($"{message.GetType()} has no binary form.");
            }
        }
        return stream.ToArray();
    }

    public static object Read(byte[] bytes, string manifest)
    {
        try
        {
            using var r = new BinaryReader(new MemoryStream(bytes, writable: false), Utf8);
            object result = manifest switch
            {
                SampleManifest => ReadSample(r),
                HostProfileManifest => ReadProfile(r),
                TelemetryManifest => ReadTelemetry(r),
                TelemetryDigestManifest => ReadDigest(r),
                EvaluateProfileManifest => new EvaluateProfile(r.ReadString(), ReadProfile(r)),
                _ => throw new SerializationException($"Unknown binary manifest '{manifest}'."),
            };
            if (r.BaseStream.Position != bytes.Length)
                throw new SerializationException($"'{manifest}': {bytes.Length - r.BaseStream.Position} bytes left over after the message.");
            return result;
        }
        catch (Exception e) when (e is EndOfStreamException or DecoderFallbackException or ArgumentOutOfRangeException or IOException)
        {
            throw new SerializationException($"'{manifest}': malformed message of {bytes.Length} bytes ({e.Message}).", e);
        }
    }

    private static Sample ReadSample(BinaryReader r)
    {
        var host = r.ReadString();
        var at = ReadTime(r);
        var values = ImmutableArray.CreateBuilder<MetricValue>(ReadCount(r));
        for (var i = values.Capacity; i > 0; i--) values.Add(new MetricValue(r.ReadString(), r.ReadDouble()));
        var stale = ImmutableArray.CreateBuilder<string>(ReadCount(r));
        for (var i = stale.Capacity; i > 0; i--) stale.Add(r.ReadString());
        return new Sample(host, at, values.MoveToImmutable(), stale.MoveToImmutable());
    }

    private static void WriteProfile(BinaryWriter w, HostProfile p)
    {
        w.Write(p.Host);
        WriteTime(w, p.At);
        w.Write((byte)p.Pressure);
        w.Write(p.Metrics.Count);
        foreach (var (series, e) in p.Metrics)
        {
            w.Write(series);
            w.Write(e.Raw);
            w.Write(e.Ema);
            w.Write(e.Estimate);
            w.Write(e.Trend);
            w.Write(e.Forecast);
            w.Write(e.ForecastStdDev);
            WriteTime(w, e.UpdatedAt);
            w.Write(e.Stale);
        }
    }

    private static HostProfile ReadProfile(BinaryReader r)
    {
        var host = r.ReadString();
        var at = ReadTime(r);
        var pressure = r.ReadByte();
        if (pressure > (byte)PressureLevel.Red) throw new SerializationException($"pressure level {pressure} is out of range");
        var count = ReadCount(r);
        var metrics = ImmutableDictionary.CreateBuilder<string, MetricEstimate>();
        for (var i = 0; i < count; i++)
        {
            var series = r.ReadString();
            metrics[series] = new MetricEstimate(r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(),
                r.ReadDouble(), ReadTime(r), r.ReadBoolean());
        }
        return new HostProfile(host, at, (PressureLevel)pressure, metrics.ToImmutable());
    }

    private static void WriteTelemetry(BinaryWriter w, TelemetryPublished t)
    {
        WriteProfile(w, t.Profile);
        w.Write(t.RejectedValues);
        w.Write(t.ValuesProfiled);
        w.Write(t.SamplesProfiled);
    }

    private static TelemetryPublished ReadTelemetry(BinaryReader r) =>
        new(ReadProfile(r), r.ReadInt64(), r.ReadInt64(), r.ReadInt64());

    private static TelemetryDigest ReadDigest(BinaryReader r)
    {
        var node = r.ReadString();
        var at = ReadTime(r);
        var hosts = ImmutableArray.CreateBuilder<TelemetryPublished>(ReadCount(r));
        for (var i = hosts.Capacity; i > 0; i--) hosts.Add(ReadTelemetry(r));
        return new TelemetryDigest(node, at, hosts.MoveToImmutable());
    }

    private static void WriteTime(BinaryWriter w, DateTimeOffset at)
    {
        w.Write(at.UtcTicks);
        w.Write((short)at.Offset.TotalMinutes);
    }

    private static DateTimeOffset ReadTime(BinaryReader r)
    {
        var ticks = r.ReadInt64();
        var offset = TimeSpan.FromMinutes(r.ReadInt16());
        return new DateTimeOffset(ticks + offset.Ticks, offset);
    }

    // A count can never exceed the bytes left (every item takes at least one), so a corrupt one fails here, not in an allocation.
    private static int ReadCount(BinaryReader r)
    {
        var count = r.ReadInt32();
        if (count < 0 || count > r.BaseStream.Length - r.BaseStream.Position)
            throw new SerializationException($"count {count} does not fit the {r.BaseStream.Length - r.BaseStream.Position} bytes left");
        return count;
    }
}
