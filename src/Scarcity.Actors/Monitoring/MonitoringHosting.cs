using Akka.Hosting;
using Scarcity.Actors.Configuration;

namespace Scarcity.Actors.Monitoring;

/// <summary>Akka.Hosting set-up of the fleet view and the decision log.</summary>
public static class MonitoringHosting
{
    /// <summary>
    /// The <see cref="MonitorActor"/> at <c>/user/monitor</c> and the <see cref="DecisionLogActor"/> at
    /// <c>/user/decision-log</c>, both ClusterClient services. A host missing from its node's digests for three view
    /// intervals (or <see cref="Profiling.ProfilerConfig.StaleAfterIntervals"/> samples, if longer) shows stale.
    /// </summary>
    public static AkkaConfigurationBuilder WithMonitoring(this AkkaConfigurationBuilder builder, DRGConfig config) =>
        builder.WithActors((system, registry) =>
        {
            var staleAfter = TimeSpan.FromTicks(Math.Max((config.Sensor.Interval * config.Profiler.StaleAfterIntervals).Ticks, (config.ViewInterval * 3).Ticks));
            var monitor = system.ActorOf(MonitorActor.Props(staleAfter), "monitor");
            var decisionLog = system.ActorOf(DecisionLogActor.Props(config.DecisionLogSize), "decision-log");
            registry.Register<GovernorActors.Monitor>(monitor);
            registry.Register<GovernorActors.DecisionLog>(decisionLog);
            var receptionist = Akka.Cluster.Tools.Client.ClusterClientReceptionist.Get(system);
            receptionist.RegisterService(monitor);
            receptionist.RegisterService(decisionLog);
        });
}
