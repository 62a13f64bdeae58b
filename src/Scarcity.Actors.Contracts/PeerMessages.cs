using System.Collections.Immutable;

namespace Scarcity.Actors.Contracts;

/// <summary>Where one subsystem stands on one action, as the other subsystems on its resource see it (priority arbitration).</summary>
/// <param name="Action">The action, e.g. <c>reduce_batch</c>.</param>
/// <param name="Level">Its current level, in (0, 1] (above 1 for <c>scale_up</c>).</param>
/// <param name="CanCut">
/// True while a further cut of the action could still relieve the resource: the level is above the policy's
/// <c>MinLevel</c> (its floor) and the effect check has not found the action ineffective.
/// </param>
/// <param name="Pressed">True while a rule of the action is active (past its threshold, not yet released).</param>
/// <param name="LastCutAt">When the level last went down (profile time); null: never since the actuator started.</param>
/// <param name="LastChangeAt">When the level last changed, either way (profile time); null: never.</param>
/// <param name="ReleasedAt">When its rules last released (profile time); null: never since the actuator started.</param>
public sealed record PeerAction(string Action, double Level, bool CanCut, bool Pressed, DateTimeOffset? LastCutAt,
    DateTimeOffset? LastChangeAt, DateTimeOffset? ReleasedAt);

/// <summary>
/// A subsystem's actuator tells its host's profiler where it stands, after a registration and whenever a level or a
/// rule's state changes (and at least every 30 s); the profiler hands it to every other subsystem on the host in
/// <see cref="HostPeers"/>. Not persisted: actuators report again after a restart or failover.
/// </summary>
/// <remarks>Manifest <c>subsystem-peer-state.v1</c>.</remarks>
/// <param name="Host">The host it runs on (routes the message to the host's profiler entity).</param>
/// <param name="Subsystem">The subsystem.</param>
/// <param name="Resource">
/// The resource of the host it uses, as a <c>key=value</c> label (<c>gpu=0</c>, from <c>Scarcity:Policy:Priorities:Resources</c>);
/// null: the whole host, shared with every subsystem on it.
/// </param>
/// <param name="Priority">Its registered priority; higher is more important (cut last, recovered first).</param>
/// <param name="Reachable">False once it died or went silent: a subsystem that is down neither holds nor is held.</param>
/// <param name="Actions">One entry per action its rules act on.</param>
/// <param name="At">
/// The profile time of its newest evaluation (the host's clock); null before its first. Peers ignore a state older than
/// three report intervals (90 s): its actuator stopped evaluating.
/// </param>
public sealed record SubsystemPeerState(string Host, string Subsystem, string? Resource, int Priority, bool Reachable, ImmutableArray<PeerAction> Actions,
    DateTimeOffset? At = null)
    : IScarcityMessage, IWithHost;

/// <summary>
/// The host's profiler hands a subsystem's actuator the newest <see cref="SubsystemPeerState"/> of every other subsystem
/// on the host, each time one of them changes; the actuator arbitrates by priority with those sharing its resource.
/// </summary>
/// <remarks>Manifest <c>host-peers.v1</c>.</remarks>
/// <param name="Subsystem">The subsystem whose actuator receives it (routes the message).</param>
/// <param name="Host">The host.</param>
/// <param name="Peers">The other subsystems attached to the host, each as it last reported (those that never did are absent).</param>
public sealed record HostPeers(string Subsystem, string Host, ImmutableArray<SubsystemPeerState> Peers) : IScarcityMessage, IWithSubsystem;
