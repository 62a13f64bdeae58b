using Akka.Hosting;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors;

/// <summary>Keys of the governor's actors in the <see cref="ActorRegistry"/>; each stage's <c>WithXxx</c> builder registers its own.</summary>
public static class GovernorActors
{
    /// <summary>The registration front door (<c>/user/policy</c>): send it <see cref="RegisterSubsystem"/>.</summary>
    public sealed class Registration;
    /// <summary>The gateway to the profilers (<c>/user/profilers</c>): send it <see cref="Sample"/> and <see cref="ReportMetrics"/>.</summary>
    public sealed class Profilers;
    /// <summary>The fleet view (<c>/user/monitor</c>): ask it <see cref="GetGovernorStatus"/>.</summary>
    public sealed class Monitor;
    /// <summary>The recent decisions (<c>/user/decision-log</c>): ask it <see cref="GetRecentDecisions"/>.</summary>
    public sealed class DecisionLog;
    /// <summary>This node's sensor (<c>/user/sensor</c>), on a <c>sensor</c> node.</summary>
    public sealed class Sensor;
    /// <summary>The operator's entry point (<c>/user/operations</c>) the CLI talks to.</summary>
    public sealed class Operations;
    /// <summary>The policy store, a cluster singleton on the governors (its proxy): ask it <see cref="GetPolicyVersions"/>.</summary>
    public sealed class PolicyStore;
    /// <summary>This node's policy holder (<c>/user/policy-versions</c>): follows the store's <see cref="CurrentPolicy"/>.</summary>
    public sealed class PolicyHolder;
    /// <summary>The shard region (or proxy) of the per-host profiler entities.</summary>
    public sealed class ProfilerRegion;
    /// <summary>The shard region (or proxy) of the per-subsystem actuator entities.</summary>
    public sealed class ActuatorRegion;
}
