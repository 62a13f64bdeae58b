using Akka.Hosting;
using Scarcity.Actors.Hosting;

namespace Scarcity.Actors.Operations;

/// <summary>Registry key of the <see cref="OperationsActor"/>.</summary>
public sealed class OperationsActorKey;

/// <summary>Akka.Hosting set-up of the operator's entry point.</summary>
public static class OperationsHostingExtensions
{
    /// <summary>
    /// Starts the <see cref="OperationsActor"/> at <c>/user/operations</c> and registers it with the
    /// <c>ClusterClientReceptionist</c>, so that the <c>scarcity</c> CLI reaches it without joining the cluster.
    /// Call after <see cref="GovernorHostingExtensions.WithScarcityNode"/>.
    /// </summary>
    public static AkkaConfigurationBuilder WithScarcityOperations(this AkkaConfigurationBuilder builder, DRGConfig config) =>
        builder.WithActors((system, registry) =>
        {
            var operations = system.ActorOf(OperationsActor.Props(config, registry), "operations");
            registry.Register<OperationsActorKey>(operations);
            Akka.Cluster.Tools.Client.ClusterClientReceptionist.Get(system).RegisterService(operations);
        });
}
