using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Scarcity.Actors.Contracts;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.Contracts.Tests;

/// <summary>Every wire message and persisted event round-trips through <see cref="ScarcitySerializer"/>, by its stable manifest.</summary>
public sealed class ScarcitySerializerSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly DateTimeOffset At = new(2026, 11, 27, 5, 0, 0, TimeSpan.FromHours(1));
    private static readonly ThrottleReason Reason = new("vram_util forecast > 0.85 -> reduce_batch x0.5", "vram_util", "forecast", 0.91, 0.91, 0.85);

    private readonly ITestOutputHelper? _output;

    public ScarcitySerializerSpecs(ITestOutputHelper output) : this() => _output = output;

    private ScarcitySerializerSpecs() : base(ScarcitySerialization.Config)
    {
    }

    private IEnumerable<object> Messages()
    {
        var estimate = new MetricEstimate(0.9, 0.88, 0.89, 0.01, 0.94, 0.02, At, false);
        var profile = new HostProfile("gpu-01", At, PressureLevel.Orange,
            ImmutableDictionary<string, MetricEstimate>.Empty.Add("vram_util{gpu=\"0\"}", estimate).Add("cpu_util", estimate with { Stale = true }));
        var decision = new Decision("engine", "gpu-01", "reduce_batch", 1, 0.5, 7, Reason, At,
            ImmutableDictionary<string, double>.Empty.Add("vram_util:forecast", 0.94), true, "");
        var status = new SubsystemStatus("engine", "gpu-01", 5, ImmutableDictionary<string, double>.Empty.Add("reduce_batch", 0.5), 7, 6, true, ["a rule: metric 'x' is missing"]);
        yield return new Sample("gpu-01", At, [new("vram_util", 0.5), new("cpu_util", double.NaN)], ["gpu_temp_c{gpu=\"1\"}"]);
        yield return new Throttle("engine", "reduce_batch", 0.5, 7, Reason, "gpu-01", At);
        yield return new ThrottleAck("engine", 7, false, "stale: already applied 8");
        yield return new ThrottleAck("engine", 7, true, "", "gpu-01");
        yield return new GetSubsystemStatus("engine", "gpu-01");
        yield return new HandOverSubsystem("gpu-01", new RegisterSubsystem("engine", "gpu-02", 5, ["reduce_batch"], TestActor), 1);
        yield return new SampleBatch([new Sample("gpu-01", At, [new("vram_util", 0.5)], []), new Sample("gpu-02", At, [], ["cpu_util"])]);
        yield return new SampleBatch([]);
        yield return new SamplePathProbe("gpu-01", 42);
        yield return new SamplePathProbeAck("gpu-01", 42);
        yield return new NodeStale("gpu-02", false, [], At);
        yield return new RegisterSubsystem("engine", "gpu-01", 5, ["reduce_batch", "flush_cache"], TestActor);
        yield return new SubsystemRegistered("engine", ImmutableDictionary<string, double>.Empty.Add("reduce_batch", 0.25), 7);
        yield return new RegistrationRejected("", "the subsystem name is empty");
        yield return new ReportMetrics("engine", "gpu-01", ImmutableDictionary<string, double>.Empty.Add("latency_ms", 420), At);
        yield return new ReportMetrics("engine", "gpu-01", ImmutableDictionary<string, double>.Empty.Add("latency_ms", 420), At, TestActor);
        yield return profile;
        yield return new TelemetryPublished(profile, 3);
        yield return new TelemetryDigest("akka.tcp://scarcity@127.0.0.1:4053", At, [new TelemetryPublished(profile, 3, 40, 4), new TelemetryPublished(profile with { Host = "gpu-02" }, 0, 10, 1)]);
        yield return new Sample("gpu-02", At, [], []);
        yield return new NodeStale("gpu-01", true, ["vram_util"], At);
        yield return decision;
        yield return new GetRecentDecisions(50, "engine");
        yield return new RecentDecisions([decision]);
        yield return GetGovernorStatus.Instance;
        yield return status;
        yield return new GetSubsystemStatus("engine");
        yield return new SubsystemDigest("akka.tcp://scarcity@127.0.0.1:4053", At, [status, status with { Name = "indexer" }], [decision, decision with { Sequence = 8 }]);
        yield return new SubsystemDigest("akka.tcp://scarcity@127.0.0.1:4053", At, [], []);
        yield return new GovernorStatus(ImmutableDictionary<string, HostProfile>.Empty.Add("gpu-01", profile),
            ImmutableDictionary<string, SubsystemStatus>.Empty.Add("engine", status), 3);
        yield return new EvaluateProfile("engine", profile);
        yield return new AttachSubsystem("gpu-01", "engine");
        yield return new AttachSubsystem("gpu-01", "engine", "akka.tcp://scarcity-subsystem@10.0.0.5:41000/user/subsystem");
        yield return new DetachSubsystem("gpu-01", "engine");
        var peer = new SubsystemPeerState("gpu-01", "trainer", "gpu=0", 1, true,
            [new PeerAction("reduce_batch", 0.25, true, true, At, At, null), new PeerAction("throttle", 1, true, false, null, null, At)]);
        yield return peer;
        yield return peer with { Resource = null, Reachable = false, Actions = [] };
        yield return peer with { At = At };
        yield return new HostPeers("engine", "gpu-01", [peer, peer with { Subsystem = "indexer", Priority = 3 }]);
        yield return new ProfilerSnapshot(ImmutableDictionary<string, SeriesState>.Empty.Add("vram_util",
            new SeriesState(0.9, 0.88, new KalmanState(0.89, 0.01, 1e-4, 2e-5, 3e-6, 4e-4, At, 42))), ["engine"], 3,
            ImmutableDictionary<string, string>.Empty.Add("engine", "akka.tcp://scarcity-subsystem@10.0.0.5:41000/user/subsystem"));
        yield return new OperatorAction("down", "akka.tcp://scarcity@127.0.0.1:4055", "alice@ops-laptop", "akka.tcp://scarcity-cli@10.0.0.9:40123", false, "wrong operator token", At);
        yield return GetShardingState.Instance;
        yield return new ShardingState([new ShardRegionState("akka.tcp://scarcity@127.0.0.1:4053", "profiler",
            ImmutableDictionary<string, ImmutableArray<string>>.Empty.Add("17", ["gpu-01"]))]);
        yield return new ActuatorSnapshot(7, ImmutableDictionary<string, double>.Empty.Add("reduce_batch", 0.5),
            ImmutableDictionary<string, DateTimeOffset>.Empty.Add("reduce_batch", At));
        yield return new ActuatorSnapshot(7, ImmutableDictionary<string, double>.Empty.Add("reduce_batch", 0.5),
            ImmutableDictionary<string, DateTimeOffset>.Empty, null, new LearnedModelState("reduce_batch", [1.0, 1.2], [0.784, 0.86], 1, 1.4, 2.4, null));
        // Policy versions (issue 16): the store's event, its queries and operator commands.
        var version = new PolicyVersion(2, At, "alice@ops", "{\"Cooldown\":\"00:00:03\"}", ["Cooldown: 00:00:05 -> 00:00:03"], true, 1);
        yield return version;
        yield return new CurrentPolicy(version with { DryRun = false }, version with { Version = 3 });
        yield return new CurrentPolicy(version, null);
        yield return GetCurrentPolicy.Instance;
        yield return new GetPolicyVersions(2, 5);
        yield return new PolicyVersions([version], 2);
        yield return new ApplyPolicy("{}", "alice@ops", new OperatorCredential("alice@ops", "token"));
        yield return new RollbackPolicy(1, "alice@ops");
        yield return new PolicyApplied(version, true);
        yield return new PolicyRejected(["Scarcity:Policy:MinLevel must be in (0, 1), was 2"]);
        yield return decision with { Dry = true, Sent = false, Sequence = 0, Detail = "dry-run (policy v2): not sent" };
        yield return new ActuatorSnapshot(7, ImmutableDictionary<string, double>.Empty.Add("throttle", 1.0),
            ImmutableDictionary<string, DateTimeOffset>.Empty, DryLevels: ImmutableDictionary<string, double>.Empty.Add("throttle", 0.49));
        yield return status with { DryLevels = ImmutableDictionary<string, double>.Empty.Add("throttle", 0.7), PolicyVersion = 2, DryPolicyVersion = 3 };
        yield return status with
        {
            Model = new LearnedModelStatus("reduce_batch", 0.4, 0.384, 0.002, 0.97, 40, true, 0, 2.2, 0.93, 0.05),
            Ineffective = ImmutableDictionary<string, string>.Empty.Add("throttle", "ineffective: 2 cuts of throttle by 'cpu_util ema > 0.9'"),
        };
    }

    [Fact]
    public void Every_message_round_trips_by_its_manifest_through_the_scarcity_serializer()
    {
        var serialization = Sys.Serialization;
        foreach (var message in Messages())
        {
            var serializer = serialization.FindSerializerFor(message);
            Assert.IsType<ScarcitySerializer>(serializer);
            var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, message);
            var bytes = serializer.ToBinary(message);

            var back = serialization.Deserialize(bytes, serializer.Identifier, manifest);

            Assert.Equal(Json(message), Json(back));
            Assert.Equal(message.GetType(), back.GetType());
        }
    }

    [Fact]
    public void A_decision_journaled_before_dry_run_existed_reads_as_live_and_a_policy_set_without_a_version_as_version_0()
    {
        var serializer = (ScarcitySerializer)Sys.Serialization.FindSerializerFor(new ThrottleAck("a", 1, true, ""));
        var old = """
            {"subsystem":"engine","host":"gpu-01","action":"reduce_batch","previousLevel":1,"level":0.5,"sequence":7,
             "reason":{"rule":"r","metric":"vram_util","signal":"forecast","value":0.9,"forecast":0.9,"threshold":0.85},
             "at":"2026-11-27T05:00:00+01:00","inputs":{},"sent":true,"detail":""}
            """u8.ToArray();

        var decision = (Decision)serializer.FromBinary(old, "decision.v1");

        Assert.False(decision.Dry);
        Assert.True(decision.Sent);
        var set = (PolicySet)serializer.FromBinary("""{"settings":{"cooldown":"00:00:05","recoveryDelay":"00:00:10","recoveryStep":0.1,"minLevel":0.1,"maxScaleUp":4,"customActions":[]},"defaults":true,"rules":{}}"""u8.ToArray(), "policy-set.v1");
        Assert.Equal(0, set.Version);
    }

    [Fact]
    public void Every_contract_type_has_a_manifest()
    {
        var contractTypes = typeof(IScarcityMessage).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IScarcityMessage).IsAssignableFrom(t));
        Assert.All(contractTypes, t => Assert.True(ScarcitySerializer.Manifests.ContainsKey(t), $"{t.Name} has no manifest"));
        Assert.Equal(ScarcitySerializer.Manifests.Count, ScarcitySerializer.Manifests.Values.Distinct().Count());
    }

    [Fact]
    public void The_messages_sent_once_per_sample_travel_in_binary_under_60_percent_of_json_and_their_json_form_is_still_read()
    {
        var serializer = (ScarcitySerializer)Sys.Serialization.FindSerializerFor(new ThrottleAck("a", 1, true, ""));
        var estimate = new MetricEstimate(0.91234, 0.88, 0.89, 0.0123, 0.94, 0.021, At, false);
        var metrics = Enumerable.Range(0, 10).ToImmutableDictionary(i => $"metric_{i}_util", i => estimate with { Raw = i / 10.0 });
        var profile = new HostProfile("gpu-node-1-sim-042", At, PressureLevel.Yellow, metrics);
        foreach (var message in new object[]
                 {
                     new Sample("gpu-node-1-sim-042", At, [.. metrics.Keys.Select((k, i) => new MetricValue(k, i / 10.0))], []),
                     profile, new TelemetryPublished(profile, 1, 2, 3), new EvaluateProfile("engine", profile),
                     new TelemetryDigest("akka.tcp://scarcity@127.0.0.1:4053", At, [new TelemetryPublished(profile, 1, 2, 3)]),
                 })
        {
            var manifest = serializer.Manifest(message);
            Assert.Matches(@"\.b[12]$", manifest);
            var binary = serializer.ToBinary(message);
            var (jsonManifest, jsonBytes) = OlderPeerJson(message);
            _output?.WriteLine($"{manifest}: {binary.Length} bytes, JSON {jsonBytes.Length} bytes ({100.0 * binary.Length / jsonBytes.Length:0} %)");
            Assert.True(binary.Length * 5 < jsonBytes.Length * 3, $"{manifest}: {binary.Length} bytes binary vs {jsonBytes.Length} JSON");
            Assert.Equal(Json(message), Json(serializer.FromBinary(binary, manifest)));
            Assert.Equal(Json(message), Json(serializer.FromBinary(jsonBytes, jsonManifest)));
        }
    }

    [Fact]
    public void The_messages_sent_per_tick_or_per_decision_travel_in_binary_smaller_than_json_and_their_json_form_is_still_read()
    {
        var serializer = (ScarcitySerializer)Sys.Serialization.FindSerializerFor(new ThrottleAck("a", 1, true, ""));
        var samples = Enumerable.Range(0, 20).Select(h => new Sample($"gpu-node-1-sim-{h:000}", At,
            [.. Enumerable.Range(0, 10).Select(i => new MetricValue($"metric_{i}_util", i / 10.0))], [])).ToImmutableArray();
        foreach (var message in new object[]
                 {
                     new SampleBatch(samples),
                     new Throttle("inference-engine", "reduce_batch", 0.5, 7, Reason, "gpu-node-1-sim-042", At),
                     new ThrottleAck("inference-engine", 7, true, "applied"),
                     new ThrottleAck("inference-engine", 7, true, "applied", "gpu-node-1-sim-042"),
                     new NodeStale("gpu-node-1-sim-042", true, ["vram_util", "cpu_util"], At),
                     TypicalDecision(),
                     TypicalReport(TestActor),
                     TypicalStatus(),
                     TypicalStatus() with
                     {
                         Model = new LearnedModelStatus("reduce_batch", 0.4, 0.384, 0.002, 0.97, 40, true, 0, 2.2, 0.93, 0.05),
                         Ineffective = ImmutableDictionary<string, string>.Empty.Add("throttle", "ineffective: 2 cuts of throttle by 'cpu_util ema > 0.9'"),
                         DryLevels = ImmutableDictionary<string, double>.Empty.Add("throttle", 0.7), DryPolicyVersion = 3, JournalError = "disk full (since 05:00:00)",
                     },
                     TypicalDigest(),
                 })
        {
            var manifest = serializer.Manifest(message);
            Assert.Matches(@"\.b[12]$", manifest);
            var binary = serializer.ToBinary(message);
            var (jsonManifest, jsonBytes) = OlderPeerJson(message);
            _output?.WriteLine($"{manifest}: {binary.Length} bytes, JSON {jsonBytes.Length} bytes ({100.0 * binary.Length / jsonBytes.Length:0} %)");
            Assert.True(binary.Length * 4 < jsonBytes.Length * 3, $"{manifest}: {binary.Length} bytes binary vs {jsonBytes.Length} JSON");
            Assert.Equal(Json(message), Json(serializer.FromBinary(binary, manifest)));
            Assert.Equal(Json(message), Json(serializer.FromBinary(jsonBytes, jsonManifest)));
        }
    }

    // A fleet driver's batch of one tick and a node's digest: 40 hosts, the same 10 series each, one stale.
    private static (SampleBatch Batch, TelemetryDigest Digest) FleetTick()
    {
        var series = Enumerable.Range(0, 10).Select(i => i == 0 ? "vram_util{gpu=\"0\"}" : $"metric_{i}_util").ToArray();
        var batch = new SampleBatch([.. Enumerable.Range(0, 40).Select(h => new Sample($"gpu-node-1-sim-{h:000}", At.AddMilliseconds(h),
            [.. series.Skip(1).Select((k, i) => new MetricValue(k, h / 40.0 + i / 100.0))], h == 7 ? [series[0]] : []))]);
        var digest = new TelemetryDigest("akka.tcp://scarcity@127.0.0.1:4053", At, [.. Enumerable.Range(0, 40).Select(h =>
        {
            var at = At.AddMilliseconds(250 * h);
            var metrics = series.Select((k, i) => KeyValuePair.Create(k, new MetricEstimate(h + i / 10.0, 0.88, 0.89 + h, -0.0123, 0.94, 0.021,
                // one series last updated before the profile (on another offset), one stale
                i == 3 ? at.AddSeconds(-2).ToOffset(TimeSpan.Zero) : at, i == 5 && h % 2 == 0)));
            return new TelemetryPublished(new HostProfile($"gpu-node-1-sim-{h:000}", at, (PressureLevel)(h % 4),
                ImmutableDictionary.CreateRange(StringComparer.Ordinal, metrics)), h, 10L * h, long.MaxValue - h);
        })]);
        return (batch, digest);
    }

    [Fact]
    public void A_batch_and_a_digest_write_each_series_name_once_and_their_older_b1_forms_are_still_read()
    {
        var serializer = (ScarcitySerializer)Sys.Serialization.FindSerializerFor(new ThrottleAck("a", 1, true, ""));
        var (batch, digest) = FleetTick();
        foreach (var (message, older, olderManifest, atMost) in new (object, byte[], string, double)[]
                 {
                     (batch, SampleBatchV1(batch), "sample-batch.b1", 0.55), (digest, TelemetryDigestV1(digest), "telemetry-digest.b1", 0.75),
                 })
        {
            var manifest = serializer.Manifest(message);
            Assert.EndsWith(".b2", manifest);
            var bytes = serializer.ToBinary(message);
            _output?.WriteLine($"{manifest}: {bytes.Length} bytes, {olderManifest} {older.Length} bytes ({100.0 * bytes.Length / older.Length:0} %)");
            Assert.True(bytes.Length < atMost * older.Length, $"{manifest}: {bytes.Length} bytes against {older.Length} in {olderManifest}");
            Assert.Equal(Json(message), Json(serializer.FromBinary(bytes, manifest)));
            Assert.Equal(Json(message), Json(serializer.FromBinary(older, olderManifest)));
        }
        // Read back, the hosts of a message share one string per series name.
        var back = (SampleBatch)serializer.FromBinary(serializer.ToBinary(batch), "sample-batch.b2");
        Assert.Same(back.Samples[0].Values[0].Metric, back.Samples[39].Values[0].Metric);
    }

    [Fact]
    public void A_batch_or_digest_naming_a_series_outside_its_table_or_with_unknown_series_flags_is_refused_naming_its_manifest()
    {
        var serializer = (ScarcitySerializer)Sys.Serialization.FindSerializerFor(new ThrottleAck("a", 1, true, ""));
        var one = new SampleBatch([new Sample("gpu-01", At, [new("vram_util", 0.5)], [])]);
        var bytes = serializer.ToBinary(one);
        // Table: 1 name ("vram_util", 1 + 9 bytes); 1 sample: host (1 + 6), time (10), 1 value: its name's index, then the double.
        var indexAt = 1 + 10 + 1 + 7 + 10 + 1;
        Assert.Equal(0, bytes[indexAt]);
        bytes[indexAt] = 5;
        var error = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(bytes, "sample-batch.b2"));
        Assert.Contains("sample-batch.b2", error.Message);
        Assert.Contains("name index 5 is outside the message's table of 1 names", error.Message);

        var profile = new HostProfile("gpu-01", At, PressureLevel.Green,
            ImmutableDictionary<string, MetricEstimate>.Empty.Add("vram_util", new MetricEstimate(0.5, 0.5, 0.5, 0, 0.5, 0, At, false)));
        var digest = serializer.ToBinary(new TelemetryDigest("node", At, [new TelemetryPublished(profile, 0)]));
        // The series' flags byte comes after its six doubles and before the three counters (a byte each here).
        Assert.Equal(2, digest[^4]);
        digest[^4] |= 0x40;
        error = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(digest, "telemetry-digest.b2"));
        Assert.Contains("telemetry-digest.b2", error.Message);
        Assert.Contains("series flags 0x42", error.Message);
        foreach (var cut in new[] { 1, 5, digest.Length / 2 })
            Assert.Contains("telemetry-digest.b2",
                Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(digest[..^cut], "telemetry-digest.b2")).Message);
    }

    // The .b1 forms as a peer of the previous release writes them (int32 counts, every name in full).
    private static byte[] SampleBatchV1(SampleBatch batch)
    {
        var (stream, w) = OldWriter();
        w.Write(batch.Samples.Length);
        foreach (var s in batch.Samples)
        {
            w.Write(s.Host);
            OldTime(w, s.At);
            w.Write(s.Values.Length);
            foreach (var v in s.Values)
            {
                w.Write(v.Metric);
                w.Write(v.Value);
            }
            w.Write(s.Stale.Length);
            foreach (var series in s.Stale) w.Write(series);
        }
        return stream.ToArray();
    }

    private static byte[] TelemetryDigestV1(TelemetryDigest digest)
    {
        var (stream, w) = OldWriter();
        w.Write(digest.Node);
        OldTime(w, digest.At);
        w.Write(digest.Hosts.Length);
        foreach (var t in digest.Hosts)
        {
            w.Write(t.Profile.Host);
            OldTime(w, t.Profile.At);
            w.Write((byte)t.Profile.Pressure);
            w.Write(t.Profile.Metrics.Count);
            foreach (var (series, e) in t.Profile.Metrics)
            {
                w.Write(series);
                foreach (var d in new[] { e.Raw, e.Ema, e.Estimate, e.Trend, e.Forecast, e.ForecastStdDev }) w.Write(d);
                OldTime(w, e.UpdatedAt);
                w.Write(e.Stale);
            }
            w.Write(t.RejectedValues);
            w.Write(t.ValuesProfiled);
            w.Write(t.SamplesProfiled);
        }
        return stream.ToArray();
    }

    private static (MemoryStream, BinaryWriter) OldWriter()
    {
        var stream = new MemoryStream();
        return (stream, new BinaryWriter(stream, new System.Text.UTF8Encoding(false)));
    }

    private static void OldTime(BinaryWriter w, DateTimeOffset at)
    {
        w.Write(at.UtcTicks);
        w.Write((short)at.Offset.TotalMinutes);
    }

    [Theory]
    [InlineData("throttle-ack.v1", """{"subsystem":"engine","sequence":7,"applied":true,"detail":"applied"}""")]
    [InlineData("get-subsystem-status.v1", """{"subsystem":"engine"}""")]
    public void An_ack_or_status_query_of_an_older_sender_without_a_host_still_reads_with_the_host_null(string manifest, string json)
    {
        var serializer = (ScarcitySerializer)Sys.Serialization.FindSerializerFor(new ThrottleAck("a", 1, true, ""));

        var back = serializer.FromBinary(System.Text.Encoding.UTF8.GetBytes(json), manifest);

        Assert.Null(back switch { ThrottleAck a => a.Host, GetSubsystemStatus q => q.Host, _ => "not read" });
    }

    [Fact]
    public void A_journaled_decision_keeps_the_json_manifest_and_form_of_the_previous_release_and_reads_back_as_a_decision()
    {
        var serializer = (ScarcitySerializer)Sys.Serialization.FindSerializerFor(new ThrottleAck("a", 1, true, ""));
        var decision = TypicalDecision() with { Dry = true };
        var (_, previousRelease) = OlderPeerJson(decision);

        var persisted = new PersistedDecision(decision);
        var manifest = serializer.Manifest(persisted);
        var bytes = serializer.ToBinary(persisted);

        Assert.Equal("decision.v1", manifest);
        Assert.Equal("decision.b1", serializer.Manifest(decision)); // published: the binary form
        Assert.Equal(System.Text.Encoding.UTF8.GetString(previousRelease), System.Text.Encoding.UTF8.GetString(bytes));
        var back = Assert.IsType<Decision>(serializer.FromBinary(bytes, manifest));
        Assert.Equal(Json(decision), Json(back));
    }

    // The binary forms list each field by hand: a field added to one of these records must be added to BinaryCodec (and
    // its manifest's version bumped if peers of this version must still read it), then here.
    [Fact]
    public void Every_field_of_a_message_with_a_binary_form_is_one_the_binary_form_was_written_for()
    {
        var written = new Dictionary<Type, string>
        {
            [typeof(Sample)] = "Host At Values Stale", [typeof(MetricValue)] = "Metric Value", [typeof(SampleBatch)] = "Samples",
            [typeof(HostProfile)] = "Host At Pressure Metrics",
            [typeof(MetricEstimate)] = "Raw Ema Estimate Trend Forecast ForecastStdDev UpdatedAt Stale",
            [typeof(TelemetryPublished)] = "Profile RejectedValues ValuesProfiled SamplesProfiled", [typeof(TelemetryDigest)] = "Node At Hosts",
            [typeof(EvaluateProfile)] = "Subsystem Profile", [typeof(NodeStale)] = "Host Stale Metrics At",
            [typeof(Throttle)] = "Subsystem Action Level Sequence Reason Host IssuedAt", [typeof(ThrottleReason)] = "Rule Metric Signal Value Forecast Threshold",
            [typeof(ThrottleAck)] = "Subsystem Sequence Applied Detail Host",
            [typeof(Decision)] = "Subsystem Host Action PreviousLevel Level Sequence Reason At Inputs Sent Detail Dry",
            [typeof(ReportMetrics)] = "Subsystem Host Values At Reporter",
            [typeof(SubsystemStatus)] = "Name Host Priority Levels LastSequence LastAckedSequence Reachable Skipped Unjournaled JournalError "
                                        + "JournalOverflowed Model Ineffective DryLevels PolicyVersion DryPolicyVersion",
            [typeof(SubsystemDigest)] = "Node At Statuses Decisions",
            [typeof(LearnedModelStatus)] = "Action Intercept Slope Residual Confidence Samples Confident Distrusted ContextK Prediction Headroom",
        };

        foreach (var (type, fields) in written)
        {
            var parameters = type.GetConstructors().Single(c => c.GetParameters().Length > 0).GetParameters().Select(p => p.Name);
            Assert.True(fields == string.Join(' ', parameters), $"{type.Name} has the fields {string.Join(' ', parameters)}; its binary form was written for {fields}");
        }
        var binary = ScarcitySerializer.Manifests.Where(kv => System.Text.RegularExpressions.Regex.IsMatch(kv.Value, @"\.b\d+$")).Select(kv => kv.Key);
        Assert.All(binary, t => Assert.True(written.ContainsKey(t), $"{t.Name} has a binary form but no line here"));
    }

    [Fact]
    public void A_truncated_binary_message_is_refused_naming_its_manifest()
    {
        var serializer = (ScarcitySerializer)Sys.Serialization.FindSerializerFor(new ThrottleAck("a", 1, true, ""));
        foreach (var message in new object[] { new Sample("gpu-01", At, [new("vram_util", 0.5)], []), TypicalDecision(), TypicalReport(TestActor), TypicalStatus(), TypicalDigest() })
        {
            var manifest = serializer.Manifest(message);
            var bytes = serializer.ToBinary(message);

            foreach (var cut in new[] { 1, 3, bytes.Length / 2, bytes.Length - 1 })
            {
                var error = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(bytes[..^cut], manifest));
                Assert.Contains(manifest, error.Message);
            }
        }
    }

    [Fact]
    public void A_corrupt_decision_or_report_is_refused_naming_its_manifest_and_what_is_wrong()
    {
        var serializer = (ScarcitySerializer)Sys.Serialization.FindSerializerFor(new ThrottleAck("a", 1, true, ""));
        var decision = serializer.ToBinary(TypicalDecision() with { Detail = "" });
        var report = serializer.ToBinary(TypicalReport(null));

        // The flags byte is the second last (an empty detail is one length byte): a bit this version does not know is a newer form.
        var newerFlags = (byte[])decision.Clone();
        newerFlags[^2] |= 0x80;
        var flagsError = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(newerFlags, "decision.b1"));
        Assert.Contains("decision.b1", flagsError.Message);
        Assert.Contains("flags 0x", flagsError.Message);

        var longer = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary([.. report, 0], "report-metrics.b1"));
        Assert.Contains("report-metrics.b1", longer.Message);
        Assert.Contains("1 bytes left over", longer.Message);

        // The values' count (after the subsystem and host, each a length byte and its UTF-8) made huge.
        var hugeCount = (byte[])report.Clone();
        var countAt = 1 + "inference-engine".Length + 1 + "gpu-node-1-sim-042".Length;
        hugeCount[countAt + 3] = 0x7f;
        var countError = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(hugeCount, "report-metrics.b1"));
        Assert.Contains("report-metrics.b1", countError.Message);
        Assert.Contains("does not fit", countError.Message);
    }

    [Fact]
    public void A_report_reads_back_its_ordinal_values_and_a_reporter_of_nobody_as_nobody()
    {
        var serializer = (ScarcitySerializer)Sys.Serialization.FindSerializerFor(new ThrottleAck("a", 1, true, ""));
        var report = TypicalReport(ActorRefs.Nobody);

        var back = (ReportMetrics)serializer.FromBinary(serializer.ToBinary(report), serializer.Manifest(report));

        Assert.Same(ActorRefs.Nobody, back.Reporter);
        Assert.Same(StringComparer.Ordinal, back.Values.KeyComparer);
        Assert.Equal(report.Values.OrderBy(v => v.Key), back.Values.OrderBy(v => v.Key));
    }

    // A decision as the actuator takes it: a forecast rule's reason and the inputs of a subsystem's two rules.
    private static Decision TypicalDecision() =>
        new("inference-engine", "gpu-node-1-sim-042", "reduce_batch", 1, 0.5, 7, Reason, At,
            ImmutableDictionary<string, double>.Empty.Add("vram_util:forecast", 0.94).Add("vram_util:raw", 0.9123).Add("latency_ms:ema", 412.5),
            true, "");

    // The status an actuator publishes with each decision and ack: two actions, one rule skipped.
    private static SubsystemStatus TypicalStatus() =>
        new("inference-engine", "gpu-node-1-sim-042", 5, ImmutableDictionary<string, double>.Empty.Add("reduce_batch", 0.5).Add("throttle", 1),
            7, 6, true, ["latency_ms ema > 500 -> throttle x0.8: metric 'latency_ms' is missing"], PolicyVersion: 2);

    // A node's subsystem digest of one linger at 500 hosts: three statuses (a decision and an ack each) and two decisions.
    private static SubsystemDigest TypicalDigest() =>
        new("akka.tcp://scarcity@10.0.0.7:4053", At,
            [TypicalStatus(), TypicalStatus() with { Name = "inference-engine-2", LastAckedSequence = 7 }, TypicalStatus() with { Name = "inference-engine-3" }],
            [TypicalDecision(), TypicalDecision() with { Subsystem = "inference-engine-3", Sequence = 8 }]);

    // A report as the client library sends it: three application metrics and the registering actor.
    private static ReportMetrics TypicalReport(IActorRef? reporter) =>
        new("inference-engine", "gpu-node-1-sim-042", ImmutableDictionary.CreateRange(StringComparer.Ordinal,
            [KeyValuePair.Create("latency_ms", 412.5), KeyValuePair.Create("queue_depth", 17.0), KeyValuePair.Create("tokens_per_s", 1893.25)]), At, reporter);

    // The JSON form a peer of an older version sends: the serializer's own options, the ".v1" manifests.
    private static (string Manifest, byte[] Bytes) OlderPeerJson(object message)
    {
        var manifests = new Dictionary<Type, string>
        {
            [typeof(Sample)] = "sample.v1", [typeof(HostProfile)] = "host-profile.v1", [typeof(TelemetryPublished)] = "telemetry.v1",
            [typeof(TelemetryDigest)] = "telemetry-digest.v1", [typeof(EvaluateProfile)] = "evaluate-profile.v1",
            [typeof(SampleBatch)] = "sample-batch.v1", [typeof(Throttle)] = "throttle.v1", [typeof(ThrottleAck)] = "throttle-ack.v1",
            [typeof(NodeStale)] = "node-stale.v1", [typeof(Decision)] = "decision.v1", [typeof(ReportMetrics)] = "report-metrics.v1",
            [typeof(SubsystemStatus)] = "subsystem-status.v1", [typeof(SubsystemDigest)] = "subsystem-digest.v1",
        };
        var options = new System.Text.Json.JsonSerializerOptions
        {
            NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
            PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase,
            Converters = { new RefAsSerializedPath(), new System.Text.Json.Serialization.JsonStringEnumConverter() },
        };
        return (manifests[message.GetType()], System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(message, message.GetType(), options));
    }

    [Fact]
    public void An_actor_reference_survives_the_round_trip()
    {
        var serializer = Sys.Serialization.FindSerializerFor(new ThrottleAck("a", 1, true, ""));
        var register = new RegisterSubsystem("engine", "gpu-01", 1, ["throttle"], TestActor);

        var back = (RegisterSubsystem)Sys.Serialization.Deserialize(serializer.ToBinary(register), serializer.Identifier, "register-subsystem.v1");

        Assert.Equal(TestActor, back.Ref);
    }

    [Fact]
    public void A_report_names_its_reporter_across_the_wire()
    {
        var serializer = Sys.Serialization.FindSerializerFor(new ThrottleAck("a", 1, true, ""));
        var report = new ReportMetrics("engine", "gpu-01", ImmutableDictionary<string, double>.Empty.Add("latency_ms", 420), At, TestActor);

        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, report);

        var back = (ReportMetrics)Sys.Serialization.Deserialize(serializer.ToBinary(report), serializer.Identifier, manifest);

        Assert.Equal("report-metrics.b1", manifest);
        Assert.Equal(TestActor, back.Reporter);
    }

    // Written before the holder and reporter fields existed: a journal's AttachSubsystem events and profiler snapshots,
    // and the reports of an older client, still read, with the new field null.
    [Theory]
    [InlineData("attach-subsystem.v1", """{"host":"gpu-01","subsystem":"engine"}""")]
    [InlineData("report-metrics.v1", """{"subsystem":"engine","host":"gpu-01","values":{"latency_ms":420},"at":"2026-11-27T05:00:00+01:00"}""")]
    [InlineData("profiler-snapshot.v1", """{"series":{},"subsystems":["engine"],"rejectedValues":3}""")]
    [InlineData("actuator-snapshot.v1", """{"sequence":7,"levels":{"reduce_batch":0.5},"lastChanges":{}}""")]
    public void Json_written_before_the_holder_fields_existed_still_reads_with_them_null(string manifest, string json)
    {
        var serializer = (ScarcitySerializer)Sys.Serialization.FindSerializerFor(new ThrottleAck("a", 1, true, ""));

        var back = serializer.FromBinary(System.Text.Encoding.UTF8.GetBytes(json), manifest);

        switch (back)
        {
            case AttachSubsystem attach:
                Assert.Equal(("gpu-01", "engine", (string?)null), (attach.Host, attach.Subsystem, attach.Holder));
                break;
            case ReportMetrics report:
                Assert.Equal(420, report.Values["latency_ms"]);
                Assert.Null(report.Reporter);
                break;
            case ProfilerSnapshot snapshot:
                Assert.Equal("engine", Assert.Single(snapshot.Subsystems));
                Assert.Equal(3, snapshot.RejectedValues);
                Assert.Null(snapshot.Holders);
                break;
            case ActuatorSnapshot actuator:
                Assert.Equal((7L, 0.5), (actuator.Sequence, actuator.Levels["reduce_batch"]));
                Assert.Null(actuator.Registration);
                Assert.Null(actuator.Model);
                break;
            default:
                Assert.Fail($"{manifest} read as {back.GetType().Name}");
                break;
        }
    }

    [Fact]
    public void An_actuator_snapshot_carries_the_registration_in_force()
    {
        var serializer = Sys.Serialization.FindSerializerFor(new ThrottleAck("a", 1, true, ""));
        var snapshot = new ActuatorSnapshot(7, ImmutableDictionary<string, double>.Empty.Add("reduce_batch", 0.5),
            ImmutableDictionary<string, DateTimeOffset>.Empty, new RegisterSubsystem("engine", "gpu-01", 5, ["reduce_batch"], TestActor));

        var back = (ActuatorSnapshot)Sys.Serialization.Deserialize(serializer.ToBinary(snapshot), serializer.Identifier, "actuator-snapshot.v1");

        Assert.NotNull(back.Registration);
        Assert.Equal(("engine", "gpu-01", 5, TestActor), (back.Registration.Name, back.Registration.Host, back.Registration.Priority, back.Registration.Ref));
        Assert.Equal("reduce_batch", Assert.Single(back.Registration.Actions));
    }

    [Fact]
    public void An_unknown_manifest_is_refused_with_its_name()
    {
        var serializer = (ScarcitySerializer)Sys.Serialization.FindSerializerFor(new ThrottleAck("a", 1, true, ""));
        var error = Assert.ThrowsAny<Exception>(() => serializer.FromBinary("{}"u8.ToArray(), "no-such.v9"));
        Assert.Contains("no-such.v9", error.Message);
    }

    // Records with collections compare by reference, so compare their canonical JSON.
    private static string Json(object o) => System.Text.Json.JsonSerializer.Serialize(o, o.GetType(), JsonOptions);

    private static readonly System.Text.Json.JsonSerializerOptions JsonOptions = new()
    {
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new RefAsPath() },
    };

    // As the serializer writes a reference: its full path, with the address.
    private sealed class RefAsSerializedPath : System.Text.Json.Serialization.JsonConverter<IActorRef>
    {
        public override IActorRef Read(ref System.Text.Json.Utf8JsonReader reader, Type t, System.Text.Json.JsonSerializerOptions o) => throw new NotSupportedException();
        public override void Write(System.Text.Json.Utf8JsonWriter writer, IActorRef value, System.Text.Json.JsonSerializerOptions o) =>
            writer.WriteStringValue(Akka.Serialization.Serialization.SerializedActorPath(value));
        public override bool CanConvert(Type typeToConvert) => typeof(IActorRef).IsAssignableFrom(typeToConvert);
    }

    private sealed class RefAsPath : System.Text.Json.Serialization.JsonConverter<IActorRef>
    {
        public override IActorRef Read(ref System.Text.Json.Utf8JsonReader reader, Type t, System.Text.Json.JsonSerializerOptions o) => throw new NotSupportedException();
        public override void Write(System.Text.Json.Utf8JsonWriter writer, IActorRef value, System.Text.Json.JsonSerializerOptions o) => writer.WriteStringValue(value.Path.ToString());
        public override bool CanConvert(Type typeToConvert) => typeof(IActorRef).IsAssignableFrom(typeToConvert);
    }
}
