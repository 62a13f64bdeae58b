using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Akka.Cluster.Tools.PublishSubscribe;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;

namespace Scarcity.Actors.Actuation;

// Priorities across the subsystems of one host (or one GPU of it): the actuator tells its host's profiler where it stands
// (SubsystemPeerState) and the profiler hands it the others' (HostPeers); the core's PriorityArbitration, which the
// subsystem's policy asks before each cut and recovery step, decides who moves first.
public sealed partial class ActuatorActor
{
    private SubsystemPeerState? _peerStateSent;
    private long _peerVersionSent = -1;
    private DateTimeOffset? _peerStateSentAt;
    private readonly Dictionary<string, string> _announcedHolds = new(StringComparer.Ordinal);

    private void ArbitrateWithPeers(PolicyConfig policy)
    {
        Arbitrate(policy);
        // Handled whether or not priorities are on now: a policy version applied later may turn them on.
        Command<HostPeers>(peers =>
        {
            if (peers.Host == _host) _policy.Arbitration?.SetPeers(peers.Peers);
        });
    }

    /// <summary>
    /// Gives the current <see cref="_policy"/> its arbitration under <paramref name="policy"/>'s priority settings (none
    /// when they are off), keeping the peers known so far: at start and after a policy version rebuilt the policy.
    /// </summary>
    private void Arbitrate(PolicyConfig policy, PriorityArbitration? before = null)
    {
        if (!policy.Priorities.Enabled)
        {
            _policy.Arbitration = null;
            return;
        }
        var arbitration = new PriorityArbitration(_subsystem, policy.Priorities, policy);
        if (before is not null) arbitration.SetPeers(before.Peers);
        _policy.Arbitration = arbitration;
    }

    /// <summary>Reports this subsystem's state to its host's profiler when it changed (or <paramref name="refreshAt"/> is due).</summary>
    private void ReportToPeers(DateTimeOffset? refreshAt = null)
    {
        if (_policy.Arbitration is not { } arbitration || _registration is null) return;
        arbitration.Priority = _registration.Priority;
        // Another host: its peers are not ours any more (the new host's profiler sends its own, if it has any).
        if (_peerStateSent is { } previous && previous.Host != _host) arbitration.SetPeers([]);
        var state = arbitration.Report(_host, _reachable && !_delivery.IsSilent, _policy, refreshAt ?? _peerStateSent?.At);
        _peerVersionSent = arbitration.Version;
        var due = refreshAt is { } at && (_peerStateSentAt is not { } sent || at - sent >= PriorityArbitration.ReportEvery || at < sent);
        if (!due && _peerStateSent is { } last && Same(last, state)) return;
        _peerStateSent = state;
        if (refreshAt is { } now) _peerStateSentAt = now;
        _profilers.Tell(state);
    }

    private static bool Same(SubsystemPeerState a, SubsystemPeerState b) =>
        a.Host == b.Host && a.Resource == b.Resource && a.Priority == b.Priority && a.Reachable == b.Reachable && a.Actions.SequenceEqual(b.Actions);

    /// <summary>After an evaluation: report to the peers, and announce a step held because of a peer (once per distinct reason).</summary>
    private void AfterEvaluation(HostProfile profile)
    {
        if (_policy.Arbitration is not { } arbitration) return;
        // Reachability and the effect check's verdicts are reported with the status (PublishStatus); here, what moved.
        if (arbitration.Version != _peerVersionSent || _peerStateSentAt is not { } sent || profile.At - sent >= PriorityArbitration.ReportEvery || profile.At < sent)
            ReportToPeers(profile.At);
        var holds = arbitration.Holds;
        foreach (var action in _announcedHolds.Keys.Where(a => !holds.ContainsKey(a)).ToList()) _announcedHolds.Remove(action);
        foreach (var (action, why) in holds)
        {
            if (_announcedHolds.TryGetValue(action, out var announced) && announced == why) continue;
            _announcedHolds[action] = why;
            PublishNotice(profile, action, "priority", why); // like the effect check's verdict: unsent, not journaled
            _log.Info("Subsystem {0}: {1} {2}", _subsystem, action, why);
        }
    }

    /// <summary>The steps held now because of a peer, for the status.</summary>
    private IEnumerable<string> PeerHolds() =>
        _policy.Arbitration?.Holds.Select(h => $"{h.Key}: {h.Value}") ?? [];
}
