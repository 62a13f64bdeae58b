using System.Collections.Concurrent;
using Akka.Actor;

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
/// the profiler has handled a sample the gateway sent through the region after the entry existed: the region's path keeps
/// its order, so by then every earlier sample of that path is through. The gateway's choice and the profiler's switch are
/// made under the entry's lock, so no sample goes through the region after the profiler judged that path drained.
/// </para>
/// <para>
/// Hand-off: a profiler that receives its hand-off stop message leaves the directory first, and passes a sample that
/// still reaches it straight (sent just before it left) to the region, which holds it for the shard's next home.
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
    /// A profiler's place in the directory (held by the profiler, which reports on it with
    /// <see cref="Handled"/> and leaves with <see cref="Leave"/>).
    /// </summary>
    public sealed class Entry
    {
        private readonly object _gate = new();
        private volatile bool _direct;
        // The time of the last sample the gateway sent through the region since the entry exists; MaxValue: none yet.
        private DateTimeOffset _pendingAt = DateTimeOffset.MaxValue;

        internal Entry(IActorRef profiler) => Profiler = profiler;

        /// <summary>The profiler entity.</summary>
        public IActorRef Profiler { get; }

        /// <summary>Whether samples go straight to the profiler.</summary>
        public bool Direct => _direct;

        // The gateway: straight (true) or through the region, remembering it was sent that way.
        internal bool Route(DateTimeOffset at)
        {
            if (_direct) return true;
            lock (_gate)
            {
                if (_direct) return true;
                _pendingAt = at;
                return false;
            }
        }

        /// <summary>
        /// The profiler handled a sample of <paramref name="at"/>: when it is the newest one the gateway sent through the
        /// region since the entry exists, that path is drained and the samples after it go straight.
        /// </summary>
        public void Handled(DateTimeOffset at)
        {
            if (_direct) return;
            lock (_gate)
            {
                if (at >= _pendingAt) _direct = true;
            }
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

    /// <summary>Takes <paramref name="entry"/> out (nothing when a newer entry of the host replaced it).</summary>
    public void Leave(string host, Entry entry) => _entries.TryRemove(KeyValuePair.Create(host, entry));

    /// <summary>Whether a profiler of <paramref name="host"/> runs on this node (is in the directory).</summary>
    public bool Contains(string host) => _entries.ContainsKey(host);

    /// <summary>Whether <paramref name="host"/>'s samples go straight to its profiler here.</summary>
    public bool IsDirect(string host) => _entries.TryGetValue(host, out var entry) && entry.Direct;

    /// <summary>
    /// The profiler to send <paramref name="host"/>'s sample of <paramref name="at"/> to straight, or null: through the
    /// region (no entry here, or its region path is not drained yet). Called by the node's gateway only.
    /// </summary>
    public IActorRef? DirectTo(string host, DateTimeOffset at) =>
        _entries.TryGetValue(host, out var entry) && entry.Route(at) ? entry.Profiler : null;
}

/// <summary>Creates <see cref="LocalProfilers"/>.</summary>
public sealed class LocalProfilersProvider : ExtensionIdProvider<LocalProfilers>
{
    /// <inheritdoc />
    public override LocalProfilers CreateExtension(ExtendedActorSystem system) => new();
}
