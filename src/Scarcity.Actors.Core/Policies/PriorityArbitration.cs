using System.Collections.Immutable;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Policies;

/// <summary>What <see cref="PriorityArbitration"/> says of a cut or a recovery step.</summary>
/// <param name="Hold">True: the step waits for a peer (<paramref name="Note"/> says which and why).</param>
/// <param name="Note">
/// Why the step waits, or why it is taken although a peer of lower priority shares the resource; null when no peer has
/// a say (the subsystem is governed as if alone).
/// </param>
public readonly record struct PriorityVerdict(bool Hold, string? Note)
{
    /// <summary>No peer has a say.</summary>
    public static readonly PriorityVerdict Free = new(false, null);
}

/// <summary>
/// Priorities across the subsystems that share a resource (a host, or one GPU of it by label): under pressure the lowest
/// priority is cut first, and a higher one only when that is not enough; recovery goes the other way. One instance per
/// subsystem, fed its peers' states (<see cref="SubsystemPeerState"/>) and asked by <see cref="SubsystemPolicy"/> before
/// each cut that a shared series triggered and before each recovery step. Pure and deterministic: time comes in as an
/// argument (profile time, the same clock the peers report in). Not thread-safe (one actor owns it).
/// </summary>
/// <remarks>
/// <para>Per action, with the peers that share the resource, are reachable and act on that action:</para>
/// <para><b>Cut.</b> Held while a peer of lower priority can still cut (above its floor, <c>MinLevel</c>, and not found
/// ineffective), until the pressure has lasted <see cref="PriorityConfig.HoldTime"/> since it began and since the
/// newest cut of those peers. Equal priorities do not hold each other.</para>
/// <para><b>Recovery.</b> Held while a peer of higher priority is below 1 and still pressed or recovering: its rules are
/// active, or its level changed or its rules released within <c>RecoveryDelay</c> + <see cref="PriorityConfig.HoldTime"/>.
/// A higher peer that has not moved for that long is held by something else (a crash limit, a model) and holds no one.</para>
/// <para>A peer that is down or silent, or whose state is older than <see cref="PeerStaleAfter"/>, holds no one.</para>
/// </remarks>
public sealed class PriorityArbitration
{
    private const double Epsilon = 1e-9;

    private readonly PriorityConfig _config;
    private readonly PolicyConfig _policy;
    private readonly Dictionary<string, Track> _tracks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _holds = new(StringComparer.Ordinal);
    private SubsystemPeerState[] _peers = [];

    /// <summary>Creates the arbitration of <paramref name="subsystem"/>, on the resource the configuration assigns it.</summary>
    /// <param name="subsystem">The subsystem.</param>
    /// <param name="config">Hold time and resources.</param>
    /// <param name="policy">Its floor (<see cref="PolicyConfig.MinLevel"/>) and <see cref="PolicyConfig.RecoveryDelay"/>.</param>
    public PriorityArbitration(string subsystem, PriorityConfig config, PolicyConfig policy)
    {
        Subsystem = subsystem;
        _config = config;
        _policy = policy;
        Resource = config.ResourceOf(subsystem);
    }

    /// <summary>The subsystem.</summary>
    public string Subsystem { get; }

    /// <summary>How often a subsystem reports its state when nothing changed (profile time). <value>30 s</value></summary>
    public static readonly TimeSpan ReportEvery = TimeSpan.FromSeconds(30);

    /// <summary>A peer's state older than this (profile time) is ignored: its actuator stopped evaluating. <value>90 s</value></summary>
    public static readonly TimeSpan PeerStaleAfter = 3 * ReportEvery;

    /// <summary>Its resource label (<c>gpu=0</c>); null: the whole host.</summary>
    public string? Resource { get; }

    /// <summary>Its registered priority; higher is more important. <value>0</value></summary>
    public int Priority { get; set; }

    /// <summary>
    /// Counts the changes of what <see cref="Report"/> says (a rule pressed or released, a level changed), so that a caller
    /// builds and sends a report only when it moved. Changes of the effect check's verdict are not counted.
    /// </summary>
    public long Version { get; private set; }

    /// <summary>The peers that share its resource, as they last reported.</summary>
    public IReadOnlyList<SubsystemPeerState> Peers => _peers;

    /// <summary>The actions held now because of a peer, each with why.</summary>
    public ImmutableDictionary<string, string> Holds => _holds.ToImmutableDictionary(StringComparer.Ordinal);

    /// <summary>
    /// True when two resources of one host overlap: the same label, or either is the whole host (null). Two GPUs of a host
    /// (<c>gpu=0</c>, <c>gpu=1</c>) do not.
    /// </summary>
    public static bool Shares(string? a, string? b) => a is null || b is null || string.Equals(a, b, StringComparison.Ordinal);

    /// <summary>
    /// The order in which pressure reaches subsystems: lowest priority first, ties by name (ordinal), so that every node
    /// orders alike. Recovery goes in the reverse order.
    /// </summary>
    public static IReadOnlyList<T> Order<T>(IEnumerable<T> subsystems, Func<T, int> priority, Func<T, string> name) =>
        subsystems.OrderBy(priority).ThenBy(name, StringComparer.Ordinal).ToList();

    /// <summary>Replaces the peers with the newest states of the other subsystems on the host; those not sharing the resource are dropped.</summary>
    public void SetPeers(IEnumerable<SubsystemPeerState> peers) =>
        _peers = [.. peers.Where(p => p.Subsystem != Subsystem && Shares(Resource, p.Resource))];

    /// <summary>Whether a rule of <paramref name="action"/> is active, at each evaluation.</summary>
    public void Observe(string action, bool pressed, DateTimeOffset now)
    {
        var track = TrackOf(action);
        if (pressed == track.Pressed) return;
        track.Pressed = pressed;
        Version++;
        if (pressed) track.PressedSince = now;
        else track.ReleasedAt = now;
        _holds.Remove(action); // a new episode: its hold, if any, is announced afresh
    }

    /// <summary>A level change of <paramref name="action"/> (whoever decided it).</summary>
    public void Changed(string action, double previous, double level, DateTimeOffset now)
    {
        if (level < previous - Epsilon) TrackOf(action).LastCutAt = now;
        Version++;
    }

    /// <summary>Whether a cut of <paramref name="action"/> triggered by a series of the shared resource is taken now.</summary>
    public PriorityVerdict Cut(string action, DateTimeOffset now)
    {
        var lower = Acting(action, now).Where(p => p.Peer.Priority < Priority).ToList();
        if (lower.Count == 0) return Settle(action, PriorityVerdict.Free);
        var canCut = lower.Where(p => p.Action.CanCut).ToList();
        if (canCut.Count == 0)
            return Settle(action, new PriorityVerdict(false, $"taken: lower-priority {Names(lower)} at the floor or ineffective on {action}"));
        var track = TrackOf(action);
        var since = track.PressedSince ?? now;
        foreach (var (_, a) in canCut)
            if (a.LastCutAt is { } cut && cut > since) since = cut;
        if (now - since >= _config.HoldTime)
            return Settle(action, new PriorityVerdict(false,
                $"taken: pressure lasted the hold time ({_config.HoldTime.TotalSeconds:0.#} s) past the cuts of lower-priority {Names(canCut)}"));
        return Settle(action, new PriorityVerdict(true, $"held: lower-priority {Describe(canCut)} can still cut {action}"));
    }

    /// <summary>Whether a recovery step of <paramref name="action"/> is taken now.</summary>
    public PriorityVerdict Recover(string action, DateTimeOffset now)
    {
        var window = _policy.RecoveryDelay + _config.HoldTime;
        var blocking = Acting(action, now)
            .Where(p => p.Peer.Priority > Priority && p.Action.Level < 1 - Epsilon)
            .Where(p => p.Action.Pressed || Latest(p.Action.LastChangeAt, p.Action.ReleasedAt) is { } moved && now - moved < window)
            .ToList();
        return Settle(action, blocking.Count == 0
            ? PriorityVerdict.Free
            : new PriorityVerdict(true, $"held: higher-priority {Describe(blocking)} recovers first"));
    }

    /// <summary>This subsystem's state for its peers, from its policy's levels.</summary>
    /// <param name="host">The host it runs on.</param>
    /// <param name="reachable">False while it is down or silent.</param>
    /// <param name="policy">Its policy (levels, last changes, actions found ineffective).</param>
    /// <param name="at">The profile time of its newest evaluation; null before its first.</param>
    public SubsystemPeerState Report(string host, bool reachable, SubsystemPolicy policy, DateTimeOffset? at = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var ineffective = policy.Ineffective;
        var actions = ImmutableArray.CreateBuilder<PeerAction>();
        foreach (var action in policy.Actions)
        {
            var state = policy.GetState(action);
            var track = TrackOf(action);
            actions.Add(new PeerAction(action, state.Level, state.Level > _policy.MinLevel + Epsilon && !ineffective.ContainsKey(action),
                track.Pressed, track.LastCutAt, state.LastChangeAt, track.ReleasedAt));
        }
        return new SubsystemPeerState(host, Subsystem, Resource, Priority, reachable, actions.ToImmutable(), at);
    }

    private PriorityVerdict Settle(string action, PriorityVerdict verdict)
    {
        if (verdict.Hold) _holds[action] = verdict.Note!;
        else _holds.Remove(action);
        return verdict;
    }

    private IEnumerable<(SubsystemPeerState Peer, PeerAction Action)> Acting(string action, DateTimeOffset now)
    {
        foreach (var peer in Order(_peers, p => p.Priority, p => p.Subsystem))
        {
            if (!peer.Reachable || (peer.At is { } at && now - at > PeerStaleAfter)) continue;
            foreach (var a in peer.Actions)
                if (a.Action == action)
                {
                    yield return (peer, a);
                    break;
                }
        }
    }

    private static DateTimeOffset? Latest(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a > b ? a : b;

    private static string Names(IEnumerable<(SubsystemPeerState Peer, PeerAction Action)> peers) =>
        string.Join(", ", peers.Select(p => p.Peer.Subsystem));

    private static string Describe(IEnumerable<(SubsystemPeerState Peer, PeerAction Action)> peers) =>
        string.Join(", ", peers.Select(p => FormattableString.Invariant($"{p.Peer.Subsystem} (priority {p.Peer.Priority}, {p.Action.Action} at {p.Action.Level:0.###})")));

    private Track TrackOf(string action)
    {
        if (!_tracks.TryGetValue(action, out var track)) _tracks[action] = track = new Track();
        return track;
    }

    private sealed class Track
    {
        public bool Pressed { get; set; }
        public DateTimeOffset? PressedSince { get; set; }
        public DateTimeOffset? ReleasedAt { get; set; }
        public DateTimeOffset? LastCutAt { get; set; }
    }
}
