using System.Collections.Concurrent;
using Akka.Actor;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Sharding;

/// <summary>
/// Issue 15: the node's directory of the profiler entities running on it, so that <c>/user/profilers</c> hands a sample
/// straight to its host's profiler (one mailbox) instead of through the host region and the shard (three mailboxes, each a
/// thread-pool hand-off). Node-local and in memory: an entity enters when its recovery completes and leaves when it starts
/// handing off or stops; a host without an entry here goes through the region as before, which finds it wherever it is.
/// </summary>
/// <remarks>
/// <para>
/// Order: a sample sent straight must not overtake one still on its way through the region (the profiler counts a
/// reading older than the last as rejected). So a new entry starts routed through the region, and turns direct only once
/// the profiler has handled the very sample (by its time) the gateway last sent through the region after the entry
/// existed: the region's path keeps its order, so by then every earlier sample of that path is through. Each send, and the
/// profiler's switch, happen under the entry's lock, so no sample goes through the region after the profiler judged that
/// path drained.
/// </para>
/// <para>
/// Hand-off: a profiler that receives its hand-off stop message closes its entry (under the same lock: no straight send
/// follows), so every sample sent straight is already in its mailbox, ahead of a marker it then sends itself; it profiles
/// them until the marker, then snapshots and stops. Samples after the close go through the region, which holds them for
/// the shard's next home: none lost, none out of order.
/// </para>
/// </remarks>
public sealed class LocalProfilers : IExtension
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>The node's directory.</summary>
    public static LocalProfilers Get(ActorSystem system) => system.WithExtension<LocalProfilers, LocalProfilersProvider>();

    /// <summary>Profilers in the directory.</summary>
    public int Count => _entries.Count;

    /// <summary>
    /// A profiler's place in the directory (held by the profiler, which reports on it with <see cref="Handled"/> and
    /// leaves with <see cref="Leave"/>).
    /// </summary>
    public sealed class Entry
    {
        private readonly object _gate = new();
        // Set once, under the lock, never cleared (a closed entry stays direct but sends nothing straight).
        private volatile bool _direct;
        private bool _closed;
        // The time of the last sample the gateway sent through the region since the entry exists; null: none yet.
        private DateTimeOffset? _pendingAt;

        internal Entry(IActorRef profiler) => Profiler = profiler;

        /// <summary>The profiler entity.</summary>
        public IActorRef Profiler { get; }

        /// <summary>Whether samples go straight to the profiler.</summary>
        public bool Direct
        {
            get { lock (_gate) return _direct && !_closed; }
        }

        // The gateway's send of a sample (sampleAt: its time) or a path probe (SamplePathProbe, sampleAt null: the way the
        // next sample would go, behind every sample before it): straight when the region's path is drained, else through
        // the region, remembering a sample sent that way (a probe leaves the pending mark alone).
        internal void Send(object message, DateTimeOffset? sampleAt, IActorRef? sender, IActorRef region)
        {
            lock (_gate)
            {
                if (_direct && !_closed)
                {
                    Profiler.Tell(message, sender);
                    return;
                }
                if (!_closed && sampleAt is { } at) _pendingAt = at;
                region.Tell(message, sender);
            }
        }

        /// <summary>
        /// The profiler handled a sample of <paramref name="at"/>: when it is the one the gateway last sent through the
        /// region since the entry exists, that path is drained and the samples after it go straight.
        /// </summary>
        public void Handled(DateTimeOffset at)
        {
            if (_direct) return; // every sample once straight: no lock on the profiler's path
            lock (_gate)
            {
                if (at == _pendingAt) _direct = true;
            }
        }

        // No straight send after this returns.
        internal void Close()
        {
            lock (_gate) _closed = true;
        }
    }

    /// <summary>
    /// <paramref name="profiler"/>, the entity of <paramref name="host"/>, is running here (replacing an older entry of the
    /// host, whose actor is gone): samples of the host reach it straight once the region's path is drained.
    /// </summary>
    public Entry Enter(string host, IActorRef profiler)
    {
        var entry = new Entry(profiler);
        _entries[host] = entry;
        return entry;
    }

    /// <summary>
    /// Closes <paramref name="entry"/> (once this returns, nothing is sent to its profiler straight) and takes it out
    /// (unless a newer entry of the host replaced it).
    /// </summary>
    public void Leave(string host, Entry entry)
    {
        entry.Close();
        _entries.TryRemove(KeyValuePair.Create(host, entry));
    }

    /// <summary>Whether a profiler of <paramref name="host"/> runs on this node (is in the directory).</summary>
    public bool Contains(string host) => _entries.ContainsKey(host);

    /// <summary>Whether <paramref name="host"/>'s samples go straight to its profiler here.</summary>
    public bool IsDirect(string host) => _entries.TryGetValue(host, out var entry) && entry.Direct;

    /// <summary>
    /// Sends <paramref name="sample"/> (from <paramref name="sender"/>) straight to its host's profiler when it runs here
    /// and the region's path to it is drained, else through <paramref name="region"/>. Called by the node's gateway only.
    /// </summary>
    public void Send(Sample sample, IActorRef? sender, IActorRef region) => Send(sample.Host, sample, sample.At, sender, region);

    /// <summary>
    /// Sends <paramref name="probe"/> the way a sample of its host would go now (straight or through
    /// <paramref name="region"/>), so its profiler answers it only after every sample sent before it. Called by the node's
    /// gateway only.
    /// </summary>
    public void Send(SamplePathProbe probe, IActorRef? sender, IActorRef region) => Send(probe.Host, probe, null, sender, region);

    private void Send(string host, object message, DateTimeOffset? sampleAt, IActorRef? sender, IActorRef region)
    {
        if (_entries.TryGetValue(host, out var entry)) entry.Send(message, sampleAt, sender, region);
        else region.Tell(message, sender);
    }
}

/// <summary>Creates <see cref="LocalProfilers"/>.</summary>
public sealed class LocalProfilersProvider : ExtensionIdProvider<LocalProfilers>
{
    /// <inheritdoc />
    public override LocalProfilers CreateExtension(ExtendedActorSystem system) => new();
}
