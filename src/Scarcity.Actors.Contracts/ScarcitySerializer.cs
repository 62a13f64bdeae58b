using System.Collections.Frozen;
using System.Runtime.Serialization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Serialization;

namespace Scarcity.Actors.Contracts;

/// <summary>
/// The one serializer of every <see cref="IScarcityMessage"/>: System.Text.Json with a stable string manifest per type,
/// so that renaming a CLR type never breaks a journal or a peer. Actor references travel as their full path. The
/// messages sent once per sample or per decision (<see cref="BinaryCodec"/>: <see cref="Sample"/>, <see cref="ReportMetrics"/>,
/// <see cref="HostProfile"/>, <see cref="Decision"/>, ...) travel in a compact binary form instead (manifests ending in
/// <c>.b1</c>, <c>.b2</c>); their JSON manifests and older binary forms are still read. A journaled decision (<see cref="PersistedDecision"/>) is written
/// as the JSON <c>decision.v1</c> and reads back as a <see cref="Decision"/>. It reads only the manifests of its table: an unknown
/// manifest, a payload over <see cref="MaximumPayloadSizeKey"/> or a body that does not parse is refused with a
/// <see cref="SerializationException"/> and counted in <see cref="WireRefusals"/>; no type outside the table is ever created.
/// </summary>
public sealed class ScarcitySerializer : SerializerWithStringManifest
{
    /// <summary>The serializer identifier, fixed forever (Akka reserves 0..100).</summary>
    public const int SerializerId = 4711;

    /// <summary>
    /// The HOCON key of the largest payload <see cref="FromBinary"/> reads, in bytes (journal rows and snapshots included;
    /// on the wire remoting's <c>maximum-frame-size</c> is the tighter bound). <value>4 MiB</value>
    /// </summary>
    public const string MaximumPayloadSizeKey = "scarcity.serialization.maximum-payload-size";

    /// <summary>The default of <see cref="MaximumPayloadSizeKey"/>: 4 MiB.</summary>
    public const long DefaultMaximumPayloadSize = 4 * 1024 * 1024;

    private static readonly FrozenDictionary<Type, string> ManifestByType = new Dictionary<Type, string>
    {
        [typeof(Sample)] = "sample.v1",
        [typeof(Throttle)] = "throttle.v1",
        [typeof(ThrottleAck)] = "throttle-ack.v1",
        [typeof(RegisterSubsystem)] = "register-subsystem.v1",
        [typeof(SubsystemRegistered)] = "subsystem-registered.v1",
        [typeof(RegistrationRejected)] = "registration-rejected.v1",
        [typeof(ReportMetrics)] = "report-metrics.v1",
        [typeof(HostProfile)] = "host-profile.v1",
        [typeof(TelemetryPublished)] = "telemetry.v1",
        [typeof(TelemetryDigest)] = "telemetry-digest.v1",
        [typeof(SubsystemDigest)] = "subsystem-digest.v1",
        [typeof(NodeStale)] = "node-stale.v1",
        [typeof(Decision)] = "decision.v1",
        [typeof(GetRecentDecisions)] = "get-recent-decisions.v1",
        [typeof(RecentDecisions)] = "recent-decisions.v1",
        [typeof(GetGovernorStatus)] = "get-governor-status.v1",
        [typeof(GovernorStatus)] = "governor-status.v1",
        [typeof(SubsystemStatus)] = "subsystem-status.v1",
        [typeof(GetSubsystemStatus)] = "get-subsystem-status.v1",
        [typeof(GetShardingState)] = "get-sharding-state.v1",
        [typeof(ShardRegionState)] = "shard-region-state.v1",
        [typeof(ShardingState)] = "sharding-state.v1",
        [typeof(GetClusterState)] = "get-cluster-state.v1",
        [typeof(ClusterMember)] = "cluster-member.v1",
        [typeof(ClusterState)] = "cluster-state.v1",
        [typeof(LeaveMember)] = "leave-member.v1",
        [typeof(DownMember)] = "down-member.v1",
        [typeof(DownUnreachable)] = "down-unreachable.v1",
        [typeof(OperationDone)] = "operation-done.v1",
        [typeof(OperationFailed)] = "operation-failed.v1",
        [typeof(GetPolicies)] = "get-policies.v1",
        [typeof(PolicyRuleView)] = "policy-rule-view.v1",
        [typeof(PolicySettings)] = "policy-settings.v1",
        [typeof(PolicySet)] = "policy-set.v1",
        [typeof(GetDecisions)] = "get-decisions.v1",
        [typeof(JournaledDecision)] = "journaled-decision.v1",
        [typeof(DecisionPage)] = "decision-page.v1",
        [typeof(GetFleetStatus)] = "get-fleet-status.v1",
        [typeof(EvaluateProfile)] = "evaluate-profile.v1",
        [typeof(ActuatorSnapshot)] = "actuator-snapshot.v1",
        [typeof(AttachSubsystem)] = "attach-subsystem.v1",
        [typeof(DetachSubsystem)] = "detach-subsystem.v1",
        [typeof(ProfilerSnapshot)] = "profiler-snapshot.v1",
        [typeof(OperatorAction)] = "operator-action.v1",
        [typeof(HandOverSubsystem)] = "hand-over-subsystem.v1",
        [typeof(SampleBatch)] = "sample-batch.v1",
        [typeof(TelemetryRecord)] = "telemetry-record.v1",
        [typeof(GetRecording)] = "get-recording.v1",
        [typeof(RecordingPage)] = "recording-page.v1",
        [typeof(HostLabels)] = "host-labels.v1",
        [typeof(ApplyBudgetCap)] = "apply-budget-cap.v1",
        [typeof(GetBudgets)] = "get-budgets.v1",
        [typeof(BudgetCapView)] = "budget-cap-view.v1",
        [typeof(BudgetStatus)] = "budget-status.v1",
        [typeof(BudgetsStatus)] = "budgets-status.v1",
        [typeof(PolicyVersion)] = "policy-version.v1",
        [typeof(CurrentPolicy)] = "current-policy.v1",
        [typeof(GetCurrentPolicy)] = "get-current-policy.v1",
        [typeof(GetPolicyVersions)] = "get-policy-versions.v1",
        [typeof(PolicyVersions)] = "policy-versions.v1",
        [typeof(ApplyPolicy)] = "apply-policy.v1",
        [typeof(RollbackPolicy)] = "rollback-policy.v1",
        [typeof(PolicyApplied)] = "policy-applied.v1",
        [typeof(PolicyRejected)] = "policy-rejected.v1",
        [typeof(SubsystemPeerState)] = "subsystem-peer-state.v1",
        [typeof(HostPeers)] = "host-peers.v1",
        [typeof(SamplePathProbe)] = "sample-path-probe.v1",
        [typeof(SamplePathProbeAck)] = "sample-path-probe-ack.v1",
    }.ToFrozenDictionary();

    // What is written: the binary manifest where there is one, else the JSON one; a journaled decision keeps the JSON one.
    private static readonly FrozenDictionary<Type, string> WrittenByType =
        ManifestByType.Select(kv => BinaryCodec.ManifestByType.TryGetValue(kv.Key, out var binary) ? KeyValuePair.Create(kv.Key, binary) : kv)
            .Append(KeyValuePair.Create(typeof(PersistedDecision), ManifestByType[typeof(Decision)]))
            .ToFrozenDictionary();

    // What is read: every JSON manifest (older peers), every binary one and the older binary forms.
    private static readonly FrozenDictionary<string, Type> TypeByManifest =
        ManifestByType.Select(kv => KeyValuePair.Create(kv.Value, kv.Key))
            .Concat(BinaryCodec.ManifestByType.Select(kv => KeyValuePair.Create(kv.Value, kv.Key)))
            .Concat(BinaryCodec.OlderManifests)
            .ToFrozenDictionary();

    private readonly JsonSerializerOptions _options;
    private readonly ExtendedActorSystem _system;

    /// <summary>Created by Akka's serialization extension.</summary>
    public ScarcitySerializer(ExtendedActorSystem system) : base(system)
    {
        _system = system;
        var configured = system.Settings.Config.HasPath(MaximumPayloadSizeKey) ? system.Settings.Config.GetByteSize(MaximumPayloadSizeKey) : null;
        MaximumPayloadSize = configured is > 0 ? configured.Value : DefaultMaximumPayloadSize;
        _options = new JsonSerializerOptions
        {
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            Converters = { new ActorRefConverter(system), new JsonStringEnumConverter() },
            // Our messages nest a few levels; a deeper document is an attack on the parser, not a message.
            MaxDepth = 32,
        };
    }

    /// <summary>The largest payload <see cref="FromBinary"/> reads, in bytes (<see cref="MaximumPayloadSizeKey"/>).</summary>
    public long MaximumPayloadSize { get; }

    /// <summary>Every type this serializer handles, with the manifest it writes.</summary>
    internal static IReadOnlyDictionary<Type, string> Manifests => WrittenByType;

    /// <inheritdoc />
    public override int Identifier => SerializerId;

    /// <inheritdoc />
    public override string Manifest(object o) =>
        WrittenByType.TryGetValue(o.GetType(), out var manifest)
            ? manifest
            : throw new ArgumentException($"{o.GetType()} has no manifest in {nameof(ScarcitySerializer)}; add it to the manifest table.");

    /// <inheritdoc />
    public override byte[] ToBinary(object obj) =>
        obj is PersistedDecision persisted ? JsonSerializer.SerializeToUtf8Bytes(persisted.Decision, _options)
        : BinaryCodec.ManifestByType.ContainsKey(obj.GetType()) ? BinaryCodec.Write(obj)
        : JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), _options);

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!TypeByManifest.TryGetValue(manifest, out var type))
        {
            WireRefusals.Get(_system).Record(WireRefusals.UnknownManifest, $"manifest '{manifest}' ({bytes.Length} bytes)");
            throw new SerializationException($"Unknown manifest '{manifest}' for {nameof(ScarcitySerializer)}: refused, nothing created.");
        }
        if (bytes.Length > MaximumPayloadSize)
        {
            WireRefusals.Get(_system).Record(WireRefusals.TooLarge, $"manifest '{manifest}' of {bytes.Length} bytes (limit {MaximumPayloadSize})");
            throw new SerializationException(
                $"A '{manifest}' payload of {bytes.Length} bytes is over the limit of {MaximumPayloadSize} bytes ({MaximumPayloadSizeKey}): refused.");
        }
        try
        {
            if (BinaryCodec.Reads(manifest)) return BinaryCodec.Read(bytes, manifest, ResolveActorRef);
            return JsonSerializer.Deserialize(bytes, type, _options)
                   ?? throw new SerializationException($"Manifest '{manifest}' deserialized to null.");
        }
        catch (Exception e) when (e is JsonException or SerializationException or EndOfStreamException or ArgumentException
                                      or InvalidOperationException or NotSupportedException or FormatException or OverflowException)
        {
            WireRefusals.Get(_system).Record(WireRefusals.Malformed, $"manifest '{manifest}': {e.Message}");
            throw e as SerializationException ?? new SerializationException($"A '{manifest}' payload does not parse: {e.Message}", e);
        }
    }

    private IActorRef ResolveActorRef(string path) => string.IsNullOrEmpty(path) ? ActorRefs.Nobody : _system.Provider.ResolveActorRef(path);

    private sealed class ActorRefConverter(ExtendedActorSystem system) : JsonConverter<IActorRef>
    {
        public override IActorRef? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var path = reader.GetString();
            return string.IsNullOrEmpty(path) ? ActorRefs.Nobody : system.Provider.ResolveActorRef(path);
        }

        public override void Write(Utf8JsonWriter writer, IActorRef value, JsonSerializerOptions options) =>
            writer.WriteStringValue(ReferenceEquals(value, ActorRefs.Nobody) ? "" : Akka.Serialization.Serialization.SerializedActorPath(value));

        public override bool CanConvert(Type typeToConvert) => typeof(IActorRef).IsAssignableFrom(typeToConvert);
    }
}
