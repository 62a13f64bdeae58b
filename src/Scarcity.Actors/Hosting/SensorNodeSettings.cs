using Akka.Hosting;
using Scarcity.Actors.Configuration;

namespace Scarcity.Actors.Hosting;

/// <summary>
/// Akka settings of a sensor-only node (roles: <c>sensor</c> only), which keeps no state and runs no governor entity:
/// on a GPU host every wake-up of an idle node is CPU taken from the governed programs (issue 15 item 4,
/// docs/performance.md "Footprint of an idle node").
/// </summary>
public static class SensorNodeSettings
{
    /// <summary>
    /// The resolution of Akka's scheduler on a sensor-only node. <value>50 ms</value> (Akka's default: 10 ms)
    /// </summary>
    /// <remarks>
    /// Akka's <c>HashedWheelTimerScheduler</c> wakes a thread-pool worker every tick whether a timer is due or not: at
    /// 10 ms that was about 100 of the 175 work items a second of an idle sensor node. A timer fires at the first tick
    /// at or after its deadline, never early, so 50 ms delays each timer by less than one tick; the node's timers
    /// tolerate it: sampling every 250 ms (a multiple of the tick, so the intervals stay even and do not drift;
    /// <c>SensorActorCoarseTickSpecs</c>), the cluster's heartbeats and gossip every second with a failure detector
    /// that accepts seconds of pause, the sharding proxies' retries, asks' timeouts. Governor nodes keep 10 ms: the
    /// actuator's cooldowns and the decision path's timers are theirs.
    /// </remarks>
    public static readonly TimeSpan SchedulerTick = TimeSpan.FromMilliseconds(50);

    /// <summary>The HOCON of <see cref="SchedulerTick"/> (<c>akka.scheduler.tick-duration</c>).</summary>
    public static string Hocon => $"akka.scheduler.tick-duration = {(int)SchedulerTick.TotalMilliseconds}ms";

    /// <summary>
    /// On a sensor-only node (<see cref="ClusterConfig.IsGovernor"/> false), the settings above; nothing on a governor.
    /// HOCON added after this call with <see cref="HoconAddMode.Prepend"/> still overrides them.
    /// </summary>
    public static AkkaConfigurationBuilder WithSensorNodeSettings(this AkkaConfigurationBuilder builder, DRGConfig config) =>
        config.Cluster.IsGovernor ? builder : builder.AddHocon(Hocon, HoconAddMode.Prepend);
}
