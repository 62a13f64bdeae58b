using Akka.Hosting;

namespace Scarcity.Actors.Registration;

/// <summary>Akka.Hosting set-up of the registration front door.</summary>
public static class RegistrationHosting
{
    /// <summary>
    /// The <see cref="RegistrationActor"/> at <c>/user/policy</c> (the path subsystems have always addressed), registered
    /// with the ClusterClient receptionist. Needs <see cref="Actuation.ActuationHosting.WithActuators"/>.
    /// </summary>
    /// <param name="builder">The Akka builder.</param>
    /// <param name="maxSubsystemsPerHost">The most subsystems one host may register (<c>Scarcity:Operations:MaxSubsystemsPerHost</c>); 0: no bound.</param>
    public static AkkaConfigurationBuilder WithRegistration(this AkkaConfigurationBuilder builder, int maxSubsystemsPerHost = 0) =>
        builder.WithActors((system, registry) =>
        {
            var registration = system.ActorOf(RegistrationActor.Props(registry.Get<GovernorActors.ActuatorRegion>(), maxSubsystemsPerHost), RegistrationActor.Name);
            registry.Register<GovernorActors.Registration>(registration);
            Akka.Cluster.Tools.Client.ClusterClientReceptionist.Get(system).RegisterService(registration);
        });
}
