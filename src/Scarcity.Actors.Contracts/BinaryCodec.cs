using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;

namespace Scarcity.Actors.Contracts;

/// <summary>
/// A compact binary form of the messages sent once per sample (samples and their per-node batches, a subsystem's
/// <see cref="ReportMetrics"/>, profiles, telemetry and its digests) or per decision (<see cref="Decision"/>, Throttle,
/// ThrottleAck, the <see cref="SubsystemStatus"/> published with each decision and ack, the per-node <see cref="SubsystemDigest"/>) and of the stale notices: a fleet of 500 hosts at 4 Hz sends thousands a second, and JSON made each
/// several times larger and slower to read. None of them is persisted in this form: the actuator journals a decision as
/// a <see cref="PersistedDecision"/>, written under the JSON manifest <c>decision.v1</c>, so a journal stays readable by
/// every release. Layout: fixed-width little-endian numbers, strings as UTF-8 with a 7-bit length prefix, times as UTC
/// ticks plus the offset in minutes, collections as a count then the items, actor references as their full path. The
/// manifest is the version: a form that changes gets a new manifest (<c>.b2</c>), and the older form is still read
/// (<see cref="OlderManifests"/>); bytes left over after the message, flags this version does not know or a truncated body
/// are refused naming the manifest.
/// <para>
/// The two messages that carry many hosts, <see cref="SampleBatch"/> and <see cref="TelemetryDigest"/>, are at <c>.b2</c>:
/// the metric and series names, the same for every host of a fleet, are written once per message in a table and each
/// value then names its series by index (7-bit encoded), as are the counts; a digest's series carries its update time only
/// where it differs from the profile's. A batch of 10-series samples is about half the size of its <c>.b1</c> form, a
/// digest about a third smaller: the bytes that every remote message is copied through several times on its way.
/// </para>
/// </summary>
internal static class BinaryCodec
{
    public const string SampleManifest = "sample.b1";
    public const string HostProfileManifest = "host-profile.b1";
    public const string TelemetryManifest = "telemetry.b1";
    public const string TelemetryDigestManifest = "telemetry-digest.b2";
    public const string EvaluateProfileManifest = "evaluate-profile.b1";
    public const string SampleBatchManifest = "sample-batch.b2";
    public const string ThrottleManifest = "throttle.b1";
    public const string ThrottleAckManifest = "throttle-ack.b1";
    public const string NodeStaleManifest = "node-stale.b1";
    public const string DecisionManifest = "decision.b1";
    public const string ReportMetricsManifest = "report-metrics.b1";
    public const string SubsystemStatusManifest = "subsystem-status.b1";
    public const string SubsystemDigestManifest = "subsystem-digest.b1";

    // Decision's booleans, one bit each; a bit not named here is a field of a newer version and refused.
    private const byte DecisionSent = 1, DecisionDry = 2;

    // Which of SubsystemStatus's optional fields follow, one bit each; a bit not named here is a field of a newer version.
    private const byte HasJournalError = 1, HasModel = 2, HasIneffective = 4, HasDryLevels = 8, HasDryPolicyVersion = 16;

    /// <summary>The forms written before the newest, still read from older peers: <c>sample-batch.b1</c> and <c>telemetry-digest.b1</c>.</summary>
    public static readonly FrozenDictionary<string, Type> OlderManifests = new Dictionary<string, Type>
    {
        [SampleBatchV1Manifest] = typeof(SampleBatch),
        [TelemetryDigestV1Manifest] = typeof(TelemetryDigest),
    }.ToFrozenDictionary();

    private const string SampleBatchV1Manifest = "sample-batch.b1";
    private const string TelemetryDigestV1Manifest = "telemetry-digest.b1";

    // A digest series' flags: stale, and updated at its profile's time (no time of its own follows).
    private const byte SeriesStale = 1, SeriesUpdatedAtProfile = 2;

    /// <summary>True when <paramref name="manifest"/> is one of the binary forms this version reads (the newest and <see cref="OlderManifests"/>).</summary>
    public static bool Reads(string manifest) => OlderManifests.ContainsKey(manifest) || TypeByManifest.ContainsKey(manifest);

    public static readonly FrozenDictionary<Type, string> ManifestByType = new Dictionary<Type, string>
    {
        [typeof(Sample)] = SampleManifest,
        [typeof(HostProfile)] = HostProfileManifest,
        [typeof(TelemetryPublished)] = TelemetryManifest,
        [typeof(TelemetryDigest)] = TelemetryDigestManifest,
        [typeof(EvaluateProfile)] = EvaluateProfileManifest,
        [typeof(SampleBatch)] = SampleBatchManifest,
        [typeof(Throttle)] = ThrottleManifest,
        [typeof(ThrottleAck)] = ThrottleAckManifest,
        [typeof(NodeStale)] = NodeStaleManifest,
        [typeof(Decision)] = DecisionManifest,
        [typeof(ReportMetrics)] = ReportMetricsManifest,
        [typeof(SubsystemStatus)] = SubsystemStatusManifest,
        [typeof(SubsystemDigest)] = SubsystemDigestManifest,
    }.ToFrozenDictionary();

    private static readonly FrozenDictionary<string, Type> TypeByManifest = ManifestByType.ToFrozenDictionary(kv => kv.Value, kv => kv.Key);

    private static readonly UTF8Encoding Utf8 = new(false, true);

    // One growing buffer per thread, reused: a fresh MemoryStream per message doubled its way up from 256 bytes, and
    // those copies were a sixth of a governor's byte arrays at 500 hosts (a digest of profiles is tens of kB).
    [ThreadStatic] private static MemoryStream? _buffer;
    [ThreadStatic] private static NameTable? _table;
    private const int KeptBufferBytes = 1 << 20;

    public static byte[] Write(object message)
    {
        var stream = _buffer ??= new MemoryStream(4096);
        stream.SetLength(0);
        using (var w = new BinaryWriter(stream, Utf8, leaveOpen: true))
        {
            switch (message)
            {
                case Sample s:
                    WriteSample(w, s);
                    break;
                case SampleBatch b:
                    WriteBatch(w, b);
                    break;
                case Throttle t:
                    w.Write(t.Subsystem);
                    w.Write(t.Action);
                    w.Write(t.Level);
                    w.Write(t.Sequence);
                    WriteReason(w, t.Reason);
                    w.Write(t.Host);
                    WriteTime(w, t.IssuedAt);
                    break;
                case ThrottleAck a:
                    w.Write(a.Subsystem);
                    w.Write(a.Sequence);
                    w.Write(a.Applied);
                    w.Write(a.Detail);
                    w.Write(a.Host is not null);
                    if (a.Host is not null) w.Write(a.Host);
                    break;
                case NodeStale n:
                    w.Write(n.Host);
                    w.Write(n.Stale);
                    w.Write(n.Metrics.IsDefault ? 0 : n.Metrics.Length);
                    if (!n.Metrics.IsDefault)
                        foreach (var series in n.Metrics) w.Write(series);
                    WriteTime(w, n.At);
                    break;
                case HostProfile p:
                    WriteProfile(w, p);
                    break;
                case TelemetryPublished t:
                    WriteTelemetry(w, t);
                    break;
                case TelemetryDigest d:
                    WriteDigest(w, d);
                    break;
                case EvaluateProfile e:
                    w.Write(e.Subsystem);
                    WriteProfile(w, e.Profile);
                    break;
                case Decision d:
                    WriteDecision(w, d);
                    break;
                case SubsystemStatus st:
                    WriteStatus(w, st);
                    break;
                case SubsystemDigest sd:
                    w.Write(sd.Node);
                    WriteTime(w, sd.At);
                    w.Write(sd.Statuses.IsDefault ? 0 : sd.Statuses.Length);
                    if (!sd.Statuses.IsDefault)
                        foreach (var st in sd.Statuses) WriteStatus(w, st);
                    w.Write(sd.Decisions.IsDefault ? 0 : sd.Decisions.Length);
                    if (!sd.Decisions.IsDefault)
                        foreach (var d in sd.Decisions) WriteDecision(w, d);
                    break;
                case ReportMetrics m:
                    w.Write(m.Subsystem);
                    w.Write(m.Host);
                    WriteValues(w, m.Values);
                    WriteTime(w, m.At);
                    w.Write(m.Reporter is not null);
                    if (m.Reporter is not null)
                        w.Write(ReferenceEquals(m.Reporter, ActorRefs.Nobody) ? "" : Akka.Serialization.Serialization.SerializedActorPath(m.Reporter));
                    break;
                default:
                    throw new ArgumentException($"{message.GetType()} has no binary form.");
            }
        }
        var bytes = stream.ToArray();
        if (stream.Capacity > KeptBufferBytes) _buffer = null; // a rare large message does not stay resident
        return bytes;
    }

    /// <summary>The message of <paramref name="manifest"/> in <paramref name="bytes"/>; <paramref name="resolve"/> turns an actor path into its reference.</summary>
    /// <exception cref="SerializationException">An unknown manifest, or a body that is truncated, corrupt or longer than the message; the message names the manifest.</exception>
    public static object Read(byte[] bytes, string manifest, Func<string, IActorRef> resolve)
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
                TelemetryDigestV1Manifest => ReadDigestV1(r),
                EvaluateProfileManifest => new EvaluateProfile(r.ReadString(), ReadProfile(r)),
                SampleBatchManifest => ReadBatch(r),
                SampleBatchV1Manifest => ReadBatchV1(r),
                ThrottleManifest => new Throttle(r.ReadString(), r.ReadString(), r.ReadDouble(), r.ReadInt64(),
                    ReadReason(r),
                    r.ReadString(), ReadTime(r)),
                ThrottleAckManifest => new ThrottleAck(r.ReadString(), r.ReadInt64(), r.ReadBoolean(), r.ReadString(), r.ReadBoolean() ? r.ReadString() : null),
                NodeStaleManifest => new NodeStale(r.ReadString(), r.ReadBoolean(), ReadStrings(r), ReadTime(r)),
                DecisionManifest => ReadDecision(r),
                SubsystemStatusManifest => ReadStatus(r),
                SubsystemDigestManifest => ReadSubsystemDigest(r),
                ReportMetricsManifest => new ReportMetrics(r.ReadString(), r.ReadString(), ReadValues(r), ReadTime(r),
                    r.ReadBoolean() ? resolve(r.ReadString()) : null),
                _ => throw new SerializationException("no such binary manifest"),
            };
            if (r.BaseStream.Position != bytes.Length)
                throw new SerializationException($"{bytes.Length - r.BaseStream.Position} bytes left over after the message");
            return result;
        }
        catch (Exception e) when (e is EndOfStreamException or DecoderFallbackException or ArgumentOutOfRangeException or IOException or SerializationException
                                      or FormatException)
        {
            throw new SerializationException($"'{manifest}': malformed message of {bytes.Length} bytes ({e.Message}).", e);
        }
    }

    // A ThrottleReason: rule, metric, signal, value, forecast, threshold (ReadReason reads it back).
    private static void WriteReason(BinaryWriter w, ThrottleReason reason)
    {
        w.Write(reason.Rule);
        w.Write(reason.Metric);
        w.Write(reason.Signal);
        w.Write(reason.Value);
        w.Write(reason.Forecast);
        w.Write(reason.Threshold);
    }

    private static ThrottleReason ReadReason(BinaryReader r) =>
        new(r.ReadString(), r.ReadString(), r.ReadString(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble());

    private static void WriteDecision(BinaryWriter w, Decision d)
    {
        w.Write(d.Subsystem);
        w.Write(d.Host);
        w.Write(d.Action);
        w.Write(d.PreviousLevel);
        w.Write(d.Level);
        w.Write(d.Sequence);
        WriteReason(w, d.Reason);
        WriteTime(w, d.At);
        WriteValues(w, d.Inputs);
        w.Write((byte)((d.Sent ? DecisionSent : 0) | (d.Dry ? DecisionDry : 0)));
        w.Write(d.Detail);
    }

    private static Decision ReadDecision(BinaryReader r)
    {
        var (subsystem, host, action) = (r.ReadString(), r.ReadString(), r.ReadString());
        var (previous, level, sequence) = (r.ReadDouble(), r.ReadDouble(), r.ReadInt64());
        var reason = ReadReason(r);
        var at = ReadTime(r);
        var inputs = ReadValues(r);
        var flags = r.ReadByte();
        if ((flags & ~(DecisionSent | DecisionDry)) != 0)
            throw new SerializationException($"flags 0x{flags:x2} name a field this version does not know");
        return new Decision(subsystem, host, action, previous, level, sequence, reason, at, inputs,
            (flags & DecisionSent) != 0, r.ReadString(), (flags & DecisionDry) != 0);
    }

    private static void WriteStatus(BinaryWriter w, SubsystemStatus s)
    {
        w.Write(s.Name);
        w.Write(s.Host);
        w.Write(s.Priority);
        WriteValues(w, s.Levels);
        w.Write(s.LastSequence);
        w.Write(s.LastAckedSequence);
        w.Write(s.Reachable);
        WriteStrings(w, s.Skipped);
        w.Write(s.Unjournaled);
        w.Write(s.JournalOverflowed);
        w.Write(s.PolicyVersion);
        w.Write((byte)((s.JournalError is null ? 0 : HasJournalError) | (s.Model is null ? 0 : HasModel) | (s.Ineffective is null ? 0 : HasIneffective)
                       | (s.DryLevels is null ? 0 : HasDryLevels) | (s.DryPolicyVersion is null ? 0 : HasDryPolicyVersion)));
        if (s.JournalError is not null) w.Write(s.JournalError);
        if (s.Model is { } m)
        {
            w.Write(m.Action);
            w.Write(m.Intercept);
            w.Write(m.Slope);
            w.Write(m.Residual);
            w.Write(m.Confidence);
            w.Write(m.Samples);
            w.Write(m.Confident);
            w.Write(m.Distrusted);
            w.Write(m.ContextK);
            w.Write(m.Prediction);
            w.Write(m.Headroom);
        }
        if (s.Ineffective is not null)
        {
            w.Write(s.Ineffective.Count);
            foreach (var (action, why) in s.Ineffective)
            {
                w.Write(action);
                w.Write(why);
            }
        }
        if (s.DryLevels is not null) WriteValues(w, s.DryLevels);
        if (s.DryPolicyVersion is { } dryVersion) w.Write(dryVersion);
    }

    private static SubsystemStatus ReadStatus(BinaryReader r)
    {
        var (name, host, priority) = (r.ReadString(), r.ReadString(), r.ReadInt32());
        var levels = ReadValues(r);
        var (lastSequence, lastAcked, reachable) = (r.ReadInt64(), r.ReadInt64(), r.ReadBoolean());
        var skipped = ReadStrings(r);
        var (unjournaled, overflowed, policyVersion) = (r.ReadInt32(), r.ReadInt64(), r.ReadInt32());
        var present = r.ReadByte();
        if ((present & ~(HasJournalError | HasModel | HasIneffective | HasDryLevels | HasDryPolicyVersion)) != 0)
            throw new SerializationException($"flags 0x{present:x2} name a field this version does not know");
        var journalError = (present & HasJournalError) != 0 ? r.ReadString() : null;
        var model = (present & HasModel) != 0
            ? new LearnedModelStatus(r.ReadString(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadInt32(), r.ReadBoolean(),
                r.ReadInt32(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble())
            : null;
        ImmutableDictionary<string, string>? ineffective = null;
        if ((present & HasIneffective) != 0)
        {
            var count = ReadCount(r);
            var builder = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
            for (var i = 0; i < count; i++) builder[r.ReadString()] = r.ReadString();
            ineffective = builder.ToImmutable();
        }
        var dryLevels = (present & HasDryLevels) != 0 ? ReadValues(r) : null;
        int? dryVersion = (present & HasDryPolicyVersion) != 0 ? r.ReadInt32() : null;
        return new SubsystemStatus(name, host, priority, levels, lastSequence, lastAcked, reachable, skipped, unjournaled, journalError, overflowed,
            model, ineffective, dryLevels, policyVersion, dryVersion);
    }

    private static void WriteStrings(BinaryWriter w, ImmutableArray<string> strings)
    {
        w.Write(strings.IsDefault ? 0 : strings.Length);
        if (!strings.IsDefault)
            foreach (var s in strings) w.Write(s);
    }

    private static void WriteValues(BinaryWriter w, ImmutableDictionary<string, double> values)
    {
        w.Write(values.Count);
        foreach (var (name, value) in values)
        {
            w.Write(name);
            w.Write(value);
        }
    }

    // Ordinal keys, as the client, the gateway and the governor build them.
    private static ImmutableDictionary<string, double> ReadValues(BinaryReader r)
    {
        var count = ReadCount(r);
        var values = ImmutableDictionary.CreateBuilder<string, double>(StringComparer.Ordinal);
        for (var i = 0; i < count; i++) values[r.ReadString()] = r.ReadDouble();
        return values.ToImmutable();
    }

    private static void WriteSample(BinaryWriter w, Sample s)
    {
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
    }

    private static Sample ReadSample(BinaryReader r)
    {
        var host = r.ReadString();
        var at = ReadTime(r);
        var values = ImmutableArray.CreateBuilder<MetricValue>(ReadCount(r));
        for (var i = values.Capacity; i > 0; i--) values.Add(new MetricValue(r.ReadString(), r.ReadDouble()));
        return new Sample(host, at, values.MoveToImmutable(), ReadStrings(r));
    }

    private static ImmutableArray<string> ReadStrings(BinaryReader r)
    {
        var strings = ImmutableArray.CreateBuilder<string>(ReadCount(r));
        for (var i = strings.Capacity; i > 0; i--) strings.Add(r.ReadString());
        return strings.MoveToImmutable();
    }

    private static void WriteBatch(BinaryWriter w, SampleBatch b)
    {
        var samples = b.Samples.IsDefault ? [] : b.Samples;
        var table = Table();
        foreach (var s in samples)
        {
            foreach (var v in s.Values) table.Add(v.Metric);
            if (!s.Stale.IsDefault)
                foreach (var series in s.Stale) table.Add(series);
        }
        table.WriteTo(w);
        w.Write7BitEncodedInt(samples.Length);
        foreach (var s in samples)
        {
            w.Write(s.Host);
            WriteTime(w, s.At);
            w.Write7BitEncodedInt(s.Values.Length);
            foreach (var v in s.Values)
            {
                w.Write7BitEncodedInt(table[v.Metric]);
                w.Write(v.Value);
            }
            var stale = s.Stale.IsDefault ? [] : s.Stale;
            w.Write7BitEncodedInt(stale.Length);
            foreach (var series in stale) w.Write7BitEncodedInt(table[series]);
        }
        table.Done();
    }

    private static SampleBatch ReadBatch(BinaryReader r)
    {
        var names = ReadNameTable(r);
        var samples = ImmutableArray.CreateBuilder<Sample>(ReadVarCount(r));
        for (var i = samples.Capacity; i > 0; i--)
        {
            var host = r.ReadString();
            var at = ReadTime(r);
            var values = ImmutableArray.CreateBuilder<MetricValue>(ReadVarCount(r));
            for (var j = values.Capacity; j > 0; j--) values.Add(new MetricValue(Name(r, names), r.ReadDouble()));
            var stale = ImmutableArray.CreateBuilder<string>(ReadVarCount(r));
            for (var j = stale.Capacity; j > 0; j--) stale.Add(Name(r, names));
            samples.Add(new Sample(host, at, values.MoveToImmutable(), stale.MoveToImmutable()));
        }
        return new SampleBatch(samples.MoveToImmutable());
    }

    private static SampleBatch ReadBatchV1(BinaryReader r)
    {
        var samples = ImmutableArray.CreateBuilder<Sample>(ReadCount(r));
        for (var i = samples.Capacity; i > 0; i--) samples.Add(ReadSample(r));
        return new SampleBatch(samples.MoveToImmutable());
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
        var pressure = ReadPressure(r);
        var count = ReadCount(r);
        var metrics = ImmutableDictionary.CreateBuilder<string, MetricEstimate>();
        for (var i = 0; i < count; i++)
        {
            var series = r.ReadString();
            metrics[series] = new MetricEstimate(r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(),
                r.ReadDouble(), ReadTime(r), r.ReadBoolean());
        }
        return new HostProfile(host, at, pressure, metrics.ToImmutable());
    }

    private static PressureLevel ReadPressure(BinaryReader r)
    {
        var pressure = r.ReadByte();
        if (pressure > (byte)PressureLevel.Red) throw new SerializationException($"pressure level {pressure} is out of range");
        return (PressureLevel)pressure;
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

    private static void WriteDigest(BinaryWriter w, TelemetryDigest d)
    {
        w.Write(d.Node);
        WriteTime(w, d.At);
        var table = Table();
        foreach (var t in d.Hosts)
            foreach (var series in t.Profile.Metrics.Keys) table.Add(series);
        table.WriteTo(w);
        w.Write7BitEncodedInt(d.Hosts.Length);
        foreach (var t in d.Hosts)
        {
            var p = t.Profile;
            w.Write(p.Host);
            WriteTime(w, p.At);
            w.Write((byte)p.Pressure);
            w.Write7BitEncodedInt(p.Metrics.Count);
            foreach (var (series, e) in p.Metrics)
            {
                w.Write7BitEncodedInt(table[series]);
                w.Write(e.Raw);
                w.Write(e.Ema);
                w.Write(e.Estimate);
                w.Write(e.Trend);
                w.Write(e.Forecast);
                w.Write(e.ForecastStdDev);
                var atProfile = e.UpdatedAt.EqualsExact(p.At);
                w.Write((byte)((e.Stale ? SeriesStale : 0) | (atProfile ? SeriesUpdatedAtProfile : 0)));
                if (!atProfile) WriteTime(w, e.UpdatedAt);
            }
            w.Write7BitEncodedInt64(t.RejectedValues);
            w.Write7BitEncodedInt64(t.ValuesProfiled);
            w.Write7BitEncodedInt64(t.SamplesProfiled);
        }
        table.Done();
    }

    private static TelemetryDigest ReadDigest(BinaryReader r)
    {
        var node = r.ReadString();
        var at = ReadTime(r);
        var names = ReadNameTable(r);
        var hosts = ImmutableArray.CreateBuilder<TelemetryPublished>(ReadVarCount(r));
        for (var i = hosts.Capacity; i > 0; i--)
        {
            var host = r.ReadString();
            var profileAt = ReadTime(r);
            var pressure = ReadPressure(r);
            var count = ReadVarCount(r);
            var metrics = ImmutableDictionary.CreateBuilder<string, MetricEstimate>(StringComparer.Ordinal);
            for (var j = 0; j < count; j++)
            {
                var series = Name(r, names);
                var (raw, ema, estimate, trend, forecast, stdDev) = (r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble());
                var flags = r.ReadByte();
                if ((flags & ~(SeriesStale | SeriesUpdatedAtProfile)) != 0)
                    throw new SerializationException($"series flags 0x{flags:x2} name a field this version does not know");
                var updatedAt = (flags & SeriesUpdatedAtProfile) != 0 ? profileAt : ReadTime(r);
                metrics[series] = new MetricEstimate(raw, ema, estimate, trend, forecast, stdDev, updatedAt, (flags & SeriesStale) != 0);
            }
            var profile = new HostProfile(host, profileAt, pressure, metrics.ToImmutable());
            hosts.Add(new TelemetryPublished(profile, r.Read7BitEncodedInt64(), r.Read7BitEncodedInt64(), r.Read7BitEncodedInt64()));
        }
        return new TelemetryDigest(node, at, hosts.MoveToImmutable());
    }

    private static TelemetryDigest ReadDigestV1(BinaryReader r)
    {
        var node = r.ReadString();
        var at = ReadTime(r);
        var hosts = ImmutableArray.CreateBuilder<TelemetryPublished>(ReadCount(r));
        for (var i = hosts.Capacity; i > 0; i--) hosts.Add(ReadTelemetry(r));
        return new TelemetryDigest(node, at, hosts.MoveToImmutable());
    }

    private static SubsystemDigest ReadSubsystemDigest(BinaryReader r)
    {
        var node = r.ReadString();
        var at = ReadTime(r);
        var statuses = ImmutableArray.CreateBuilder<SubsystemStatus>(ReadCount(r));
        for (var i = statuses.Capacity; i > 0; i--) statuses.Add(ReadStatus(r));
        var decisions = ImmutableArray.CreateBuilder<Decision>(ReadCount(r));
        for (var i = decisions.Capacity; i > 0; i--) decisions.Add(ReadDecision(r));
        return new SubsystemDigest(node, at, statuses.MoveToImmutable(), decisions.MoveToImmutable());
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

    // A 7-bit encoded count, bounded like ReadCount.
    private static int ReadVarCount(BinaryReader r)
    {
        var count = r.Read7BitEncodedInt();
        if (count < 0 || count > r.BaseStream.Length - r.BaseStream.Position)
            throw new SerializationException($"count {count} does not fit the {r.BaseStream.Length - r.BaseStream.Position} bytes left");
        return count;
    }

    private static string[] ReadNameTable(BinaryReader r)
    {
        var names = new string[ReadVarCount(r)];
        for (var i = 0; i < names.Length; i++) names[i] = r.ReadString();
        return names;
    }

    private static string Name(BinaryReader r, string[] names)
    {
        var index = r.Read7BitEncodedInt();
        if ((uint)index >= (uint)names.Length)
            throw new SerializationException($"name index {index} is outside the message's table of {names.Length} names");
        return names[index];
    }

    // This thread's table, empty (a write that failed half-way may have left names in it).
    private static NameTable Table()
    {
        var table = _table ??= new NameTable();
        table.Clear();
        return table;
    }

    /// <summary>The names of one message in the order first seen, each written once; the message then refers to them by index.</summary>
    private sealed class NameTable
    {
        // A message of more distinct names than this does not keep its table for the next one.
        private const int KeptNames = 4096;
        private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
        private readonly List<string> _names = [];

        public void Add(string name)
        {
            if (_index.TryAdd(name, _names.Count)) _names.Add(name);
        }

        public int this[string name] => _index[name];

        public void WriteTo(BinaryWriter w)
        {
            w.Write7BitEncodedInt(_names.Count);
            foreach (var name in _names) w.Write(name);
        }

        public void Clear()
        {
            _index.Clear();
            _names.Clear();
        }

        public void Done()
        {
            if (_names.Count > KeptNames) _table = null;
        }
    }
}
