using Akka.Cluster.Hosting;
using Akka.Hosting;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Sharding;

namespace Scarcity.Actors.Policies;

/// <summary>Akka.Hosting set-up of run-time policy versions.</summary>
public static class PolicyHosting
{
    /// <summary>The name of the policy store's singleton manager (<c>/user/policy-store</c>; its proxy <c>/user/policy-store-proxy</c>).</summary>
    public const string StoreName = "policy-store";

    /// <summary>
    /// The policy store (<see cref="PolicyStoreActor"/>) as a cluster singleton on the <c>governor</c> nodes (a proxy on every
    /// node), and this node's <see cref="PolicyHolderActor"/> at <c>/user/policy-versions</c>.
    /// </summary>
    public static AkkaConfigurationBuilder WithPolicyVersions(this AkkaConfigurationBuilder builder, DRGConfig config)
    {
        var options = new ClusterSingletonOptions { Role = GovernorEntities.GovernorRole };
        builder = config.Cluster.IsGovernor
            ? builder.WithSingleton<GovernorActors.PolicyStore>(StoreName, PolicyStoreActor.SupervisedProps(config.Policy), options)
            : builder.WithSingletonProxy<GovernorActors.PolicyStore>(StoreName, options);
        return builder.WithActors((system, registry) =>
        {
            var holder = system.ActorOf(PolicyHolderActor.Props(registry.Get<GovernorActors.PolicyStore>(), config.Policy), "policy-versions");
            registry.Register<GovernorActors.PolicyHolder>(holder);
        });
    }
}
