using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Pattern;
using Scarcity.Actors.Configuration;

namespace Scarcity.Actors.Budgets;

/// <summary>Akka.Hosting set-up of fleet budgets.</summary>
public static class BudgetsHosting
{
    /// <summary>The singleton's name: the manager at <c>/user/budget-owner</c>, the proxy at <c>/user/budget-owner-proxy</c>.</summary>
    public const string SingletonName = "budget-owner";

    /// <summary>Registry key of the proxy to the budget owner (ask it <see cref="Contracts.GetBudgets"/>).</summary>
    public sealed class BudgetOwner;

    /// <summary>
    /// On a <c>sensor</c> node with labels, the <see cref="HostLabelsActor"/> at <c>/user/host-labels</c>. When budgets
    /// are configured (<c>Scarcity:Policy:Budgets</c>): the <see cref="BudgetOwnerActor"/> as a cluster singleton on the
    /// <c>governor</c> role (under a backoff supervisor, so a journal failure restarts it, recovering its caps, instead
    /// of leaving the fleet without an owner), and a proxy to it on every node, registered as <see cref="BudgetOwner"/>.
    /// Needs the actuators and the monitoring stage (<c>WithActuators</c>, <c>WithMonitoring</c>).
    /// </summary>
    public static AkkaConfigurationBuilder WithBudgets(this AkkaConfigurationBuilder builder, DRGConfig config)
    {
        if (config.Cluster.Roles.Contains("sensor") && config.Sensor.Labels.Count > 0)
            builder.WithActors((system, _) =>
                system.ActorOf(HostLabelsActor.Props(config.Host, config.Sensor.Labels, config.Sensor.LabelsInterval), "host-labels"));
        if (config.Policy.Budgets.Count == 0) return builder;
        var options = new ClusterSingletonOptions { Role = "governor" };
        if (!config.Cluster.IsGovernor) return builder.WithSingletonProxy<BudgetOwner>(SingletonName, options);
        return builder.WithSingleton<BudgetOwner>(SingletonName, (_, registry, _) =>
            BackoffSupervisor.Props(Backoff.OnStop(
                BudgetOwnerActor.Props(config.Policy.Budgets, registry.Get<GovernorActors.ActuatorRegion>(), registry.Get<GovernorActors.Monitor>(),
                    config.ViewInterval),
                "owner", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), 0.2, -1)), options, createProxyToo: true);
    }
}
