using System.Collections.Immutable;
using Akka.Actor;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Profiling;

// Priorities across the subsystems of one host: the profiler, which knows every subsystem on its host, passes each
// actuator's state (SubsystemPeerState) on to all of them (HostPeers, each without its own). Kept in memory only:
// actuators report again after a change, a registration, a resume, and at least every 30 s.
public sealed partial class ProfilerActor
{
    private readonly Dictionary<string, SubsystemPeerState> _peerStates = new(StringComparer.Ordinal);
    private bool _peersShared;

    private void ReceivePeerStates()
    {
        Command<SubsystemPeerState>(state =>
        {
            if (state.Host != _host) return;
            _peerStates[state.Subsystem] = state;
            SendPeers();
        });
    }

    /// <summary>A subsystem left the host: the others stop arbitrating with it.</summary>
    private void ForgetPeer(string subsystem)
    {
        if (_peerStates.Remove(subsystem)) SendPeers();
    }

    // Every subsystem that reported gets the others' newest states; nothing is sent while one subsystem is alone.
    private void SendPeers()
    {
        var states = _peerStates.Where(s => _subsystems.Contains(s.Key)).Select(s => s.Value).ToList();
        // Once shared, a subsystem left alone still gets the empty list, so it stops arbitrating with the one that left.
        if (states.Count < 2 && !_peersShared) return;
        _peersShared = true;
        foreach (var subsystem in _subsystems)
            _actuators.Tell(new HostPeers(subsystem, _host, [.. states.Where(s => s.Subsystem != subsystem)]));
    }
}
