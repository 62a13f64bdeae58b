using System.Collections.Concurrent;
using Akka.Actor;
using Scarcity.Actors.Journaling;

namespace Scarcity.Actors.Journaling;

/// <summary>
/// This node's view of its database as its entities meet it (an Akka extension, one per actor system): which entities'
/// journal writes are failing, since when, with what error, and how many events wait. Read by readiness (<c>/readyz</c>)
/// and the metrics; the entities' <see cref="JournalWriter"/>s report into it. Also the node's one
/// <see cref="LogRateLimiter"/> for persistence errors, so a hundred entities meeting the same error log one line per
/// interval, not a hundred. Thread-safe.
/// </summary>
public sealed class PersistenceHealth : IExtension
{
    /// <summary>
    /// A failure not seen again for this long is no longer current: an entity whose recovery failed stops and may start
    /// on another node, and nothing would ever clear it here. Writers retry at least every
    /// <c>Scarcity:Persistence:WriteRetryMax</c> and sharding restarts a failed entity every 10 s, so a failure that
    /// lasts is seen well within it.
    /// </summary>
    public static readonly TimeSpan Current = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<string, (string Error, DateTimeOffset Since, DateTimeOffset LastSeen)> _failing = new(StringComparer.Ordinal);
    private readonly object _logLock = new();
    private LogRateLimiter? _limiter;
    private long _waiting;

    /// <summary>The health of <paramref name="system"/>'s persistence.</summary>
    public static PersistenceHealth Get(ActorSystem system) => system.WithExtension<PersistenceHealth, PersistenceHealthProvider>();

    /// <summary>Entities whose last journal write (or recovery) failed within <see cref="Current"/>.</summary>
    public int FailingEntities => CurrentFailures().Count();

    /// <summary>Events decided on this node and not yet in the journal.</summary>
    public long Waiting => Interlocked.Read(ref _waiting);

    /// <summary>The oldest failure still current: which entity, its error, since when; null while every write succeeds.</summary>
    public (string PersistenceId, string Error, DateTimeOffset Since)? OldestFailure =>
        CurrentFailures().OrderBy(f => f.Value.Since).Select(f => ((string PersistenceId, string Error, DateTimeOffset Since)?)(f.Key, f.Value.Error, f.Value.Since))
            .FirstOrDefault();

    private IEnumerable<KeyValuePair<string, (string Error, DateTimeOffset Since, DateTimeOffset LastSeen)>> CurrentFailures()
    {
        var after = DateTimeOffset.UtcNow - Current;
        return _failing.Where(f => f.Value.LastSeen >= after);
    }

    /// <summary>Records that <paramref name="persistenceId"/>'s writes (or recovery) fail with <paramref name="error"/> (keeps the first time).</summary>
    public void Failing(string persistenceId, string error, DateTimeOffset now) =>
        _failing.AddOrUpdate(persistenceId, (error, now, now), (_, old) => (error, old.LastSeen >= now - Current ? old.Since : now, now));

    /// <summary>Records that <paramref name="persistenceId"/>'s writes succeed again (or that it stopped).</summary>
    public void Succeeding(string persistenceId) => _failing.TryRemove(persistenceId, out _);

    /// <summary>Adds <paramref name="delta"/> to the events waiting on this node.</summary>
    public void AddWaiting(long delta) => Interlocked.Add(ref _waiting, delta);

    /// <summary>Whether to log an error with <paramref name="key"/> now (one line per distinct key per <paramref name="interval"/>).</summary>
    public bool ShouldLog(string key, TimeSpan interval, DateTimeOffset now, out long suppressed)
    {
        lock (_logLock)
        {
            _limiter ??= new LogRateLimiter(interval);
            return _limiter.ShouldLog(key, now, out suppressed);
        }
    }
}

/// <summary>Creates the <see cref="PersistenceHealth"/> extension.</summary>
public sealed class PersistenceHealthProvider : ExtensionIdProvider<PersistenceHealth>
{
    /// <inheritdoc />
    public override PersistenceHealth CreateExtension(ExtendedActorSystem system) => new();
}
