using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Akka.Event;

namespace Scarcity.Actors.Sharding;

/// <summary>
/// This node's writer of the <see cref="SubsystemDirectory"/> (<c>/system/subsystem-directory</c>): the actuators of the
/// node tell it where their subsystems are (<see cref="Place"/>), and it writes what the directory does not already say in
/// one local update per <see cref="Linger"/>.
/// </summary>
/// <remarks>
/// Why not one update per placement (the actuators' writes before session 17): every update of the set, even one that
/// changes nothing, has the replicator merge the whole set, compute its digest (serialize it, SHA-1) and propagate it,
/// on every node: O(fleet) per registration. A fleet starting up registers every subsystem at once, and a subsystem
/// retries every 2 s until answered, so in a 2,000-host cold start the retries that queued up while the shards started
/// reached the actuators by the thousand; the directory's writes took about 10 % of the machine (perf, 3 governors on 2
/// cores; docs/performance-cluster.md, "Session 17"). Now a placement the directory already holds is skipped, and the rest
/// of a burst is one update.
/// </remarks>
public sealed class SubsystemDirectoryWriter : ReceiveActor, IWithTimers
{
    /// <summary>How long a placement waits for others to be written with it: 200 ms (the directory gossips every 2 s).</summary>
    public static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(200);

    /// <summary>Places <paramref name="Subsystem"/> on <paramref name="Host"/> (and on no other host). Local only.</summary>
    public sealed record Place(string Subsystem, string Host) : INoSerializationVerificationNeeded;

    private sealed class Flush
    {
        public static readonly Flush Instance = new();
        private Flush() { }
    }

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _replicator;
    private readonly UniqueAddress _node;
    // What the directory says, per subsystem: its one host, or null while it names several (a merge of two placements).
    private Dictionary<string, string?> _known = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _pending = new(StringComparer.Ordinal);
    // Batches sent to the replicator and not yet confirmed: a Changed sent before one was applied must not make the
    // writer forget it (the replicator confirms an update before any Changed that holds it).
    private readonly List<Dictionary<string, string>> _inFlight = [];

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props of the writer.</summary>
    public static Props Props() => Akka.Actor.Props.Create(() => new SubsystemDirectoryWriter());

    /// <summary>Creates the writer; it follows the directory to know what it already holds.</summary>
    public SubsystemDirectoryWriter()
    {
        _replicator = DistributedData.Get(Context.System).Replicator;
        _node = Cluster.Get(Context.System).SelfUniqueAddress;
        Receive<Place>(place =>
        {
            if (!_pending.ContainsKey(place.Subsystem) && _known.TryGetValue(place.Subsystem, out var host) && host == place.Host) return;
            _pending[place.Subsystem] = place.Host;
            if (!Timers.IsTimerActive(Flush.Instance)) Timers.StartSingleTimer(Flush.Instance, Flush.Instance, Linger);
        });
        Receive<Flush>(_ =>
        {
            if (_pending.Count == 0) return;
            var batch = new Dictionary<string, string>(_pending, StringComparer.Ordinal);
            _pending.Clear();
            _inFlight.Add(batch);
            KnowWritten(batch);
            _replicator.Tell(Dsl.Update(SubsystemDirectory.Key, ORSet<string>.Empty, WriteLocal.Instance, batch,
                placements => SubsystemDirectory.Placed(placements, _node, batch)));
        });
        Receive<Changed>(changed =>
        {
            if (!changed.Key.Equals(SubsystemDirectory.Key)) return;
            _known = Known(changed.Get(SubsystemDirectory.Key));
            foreach (var batch in _inFlight) KnowWritten(batch);
        });
        Receive<UpdateSuccess>(success =>
        {
            if (success.Request is Dictionary<string, string> batch) _inFlight.Remove(batch);
        });
        Receive<IUpdateFailure>(failure =>
        {
            // Written again with the next flush (a newer placement of the same subsystem wins), not skipped as known.
            if (failure.Request is not Dictionary<string, string> batch) return;
            _inFlight.Remove(batch);
            _log.Warning("Could not write {0} subsystem placements to the directory ({1}); trying again", batch.Count, failure.GetType().Name);
            foreach (var (subsystem, host) in batch)
            {
                _known.Remove(subsystem);
                _pending.TryAdd(subsystem, host);
            }
            if (!Timers.IsTimerActive(Flush.Instance)) Timers.StartSingleTimer(Flush.Instance, Flush.Instance, Linger);
        });
    }

    private void KnowWritten(Dictionary<string, string> batch)
    {
        foreach (var (subsystem, host) in batch) _known[subsystem] = host;
    }

    /// <inheritdoc />
    protected override void PreStart() => SubsystemDirectory.Subscribe(Context.System, Self);

    private static Dictionary<string, string?> Known(ORSet<string> placements)
    {
        var known = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var element in placements)
            if (SubsystemDirectory.TrySplit(element, out var subsystem, out var host))
                known[subsystem] = known.ContainsKey(subsystem) ? null : host;
        return known;
    }
}

/// <summary>The node's <see cref="SubsystemDirectoryWriter"/>, started on first use.</summary>
public sealed class SubsystemDirectoryWriters : IExtension
{
    /// <summary>The writer actor (<c>/system/subsystem-directory</c>).</summary>
    public IActorRef Writer { get; }

    /// <summary>Starts the writer.</summary>
    public SubsystemDirectoryWriters(ExtendedActorSystem system) =>
        Writer = system.SystemActorOf(SubsystemDirectoryWriter.Props(), "subsystem-directory");

    /// <summary>The writers extension of <paramref name="system"/>.</summary>
    public static SubsystemDirectoryWriters Get(ActorSystem system) => system.WithExtension<SubsystemDirectoryWriters, SubsystemDirectoryWritersProvider>();
}

/// <summary>Creates the <see cref="SubsystemDirectoryWriters"/> extension.</summary>
public sealed class SubsystemDirectoryWritersProvider : ExtensionIdProvider<SubsystemDirectoryWriters>
{
    /// <inheritdoc />
    public override SubsystemDirectoryWriters CreateExtension(ExtendedActorSystem system) => new(system);
}
