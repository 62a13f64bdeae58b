using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Event;

namespace Scarcity.Actors.Contracts;

/// <summary>
/// What this actor system refused to read or write on the wire (and in the journal), counted by reason: a payload under
/// a serializer that is disabled (<see cref="DisabledJsonSerializer"/>: Akka's Newtonsoft JSON identifier, or a type with
/// no binding), a manifest <see cref="ScarcitySerializer"/> does not declare, a payload over the size limit, or a body that
/// does not parse. Nothing refused is instantiated. One Akka extension per actor system; the node's Prometheus endpoint
/// exports the counts as <c>scarcity_wire_messages_refused_total{reason}</c>. Each distinct refusal (reason and what) is
/// logged once at Warning, so a hostile peer repeating itself cannot flood the log.
/// </summary>
public sealed class WireRefusals : IExtension
{
    /// <summary>Reason: a payload under a disabled serializer (Akka's Newtonsoft JSON identifier 1), or an outgoing type with no binding.</summary>
    public const string DisabledSerializer = "disabled_serializer";

    /// <summary>Reason: a manifest that <see cref="ScarcitySerializer"/> does not declare.</summary>
    public const string UnknownManifest = "unknown_manifest";

    /// <summary>Reason: a payload larger than <see cref="ScarcitySerializer"/>'s limit.</summary>
    public const string TooLarge = "too_large";

    /// <summary>Reason: a payload of a declared manifest whose body does not parse.</summary>
    public const string Malformed = "malformed";

    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _logged = new(StringComparer.Ordinal);
    // Created on first use: the serializers ask for this extension while the actor system is still being built.
    private readonly Lazy<ILoggingAdapter> _log;

    /// <summary>Created by <see cref="WireRefusalsProvider"/>.</summary>
    public WireRefusals(ExtendedActorSystem system) => _log = new(() => Logging.GetLogger(system, typeof(WireRefusals)));

    /// <summary>This actor system's refusals.</summary>
    public static WireRefusals Get(ActorSystem system) => system.WithExtension<WireRefusals, WireRefusalsProvider>();

    /// <summary>Refusals so far, by reason (one of the constants of this class).</summary>
    public IReadOnlyDictionary<string, long> Counts => _counts.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);

    /// <summary>Refusals so far of <paramref name="reason"/>.</summary>
    public long Count(string reason) => _counts.GetValueOrDefault(reason);

    /// <summary>Counts one refusal and logs it the first time this reason and <paramref name="what"/> occur.</summary>
    /// <param name="reason">One of the constants of this class.</param>
    /// <param name="what">What was refused, for the log line (a type or manifest name, a size); bounded to 200 characters.</param>
    public void Record(string reason, string what)
    {
        _counts.AddOrUpdate(reason, 1, (_, n) => n + 1);
        var shown = what.Length > 200 ? what[..200] + "..." : what;
        // The set of distinct lines is bounded too: past 1000 every refusal is still counted, only no longer logged.
        if (_logged.Count < 1000 && _logged.TryAdd(reason + "|" + shown, 0))
            _log.Value.Warning("Refused a message on the wire ({0}): {1}. Only the messages declared in ScarcitySerializer's manifests " +
                         "and Akka's own protobuf messages are read; further refusals like this one are counted in " +
                         "scarcity_wire_messages_refused_total, not logged.", reason, shown);
    }
}

/// <summary>Creates <see cref="WireRefusals"/>, once per actor system.</summary>
public sealed class WireRefusalsProvider : ExtensionIdProvider<WireRefusals>
{
    /// <inheritdoc />
    public override WireRefusals CreateExtension(ExtendedActorSystem system) => new(system);
}
