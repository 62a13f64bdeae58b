using Akka.Hosting;
using Scarcity.Actors.Configuration;

namespace Scarcity.Actors.Operations;

/// <summary>Akka.Hosting set-up of the operator's entry point.</summary>
public static class OperationsHosting
{
    /// <summary>
    /// Starts the <see cref="OperationsActor"/> at <c>/user/operations</c> and registers it with the
    /// <c>ClusterClientReceptionist</c>, so that the <c>scarcity</c> CLI reaches it without joining the cluster.
    /// </summary>
    public static AkkaConfigurationBuilder WithOperations(this AkkaConfigurationBuilder builder, DRGConfig config) =>
        builder.WithActors((system, registry) =>
        {
            var operations = system.ActorOf(OperationsActor.Props(config, registry), "operations");
            registry.Register<GovernorActors.Operations>(operations);
            Akka.Cluster.Tools.Client.ClusterClientReceptionist.Get(system).RegisterService(operations);
        });
}
