using Akka.Hosting;

namespace Scarcity.Actors.Registration;

/// <summary>Akka.Hosting set-up of the registration front door.</summary>
public static class RegistrationHosting
{
    /// <summary>
    /// The <see cref="RegistrationActor"/> at <c>/user/policy</c> (the path subsystems have always addressed), registered
    /// with the ClusterClient receptionist. Needs <see cref="Actuation.ActuationHosting.WithActuators"/>.
    /// </summary>
    public static AkkaConfigurationBuilder WithRegistration(this AkkaConfigurationBuilder builder) =>
        builder.WithActors((system, registry) =>
        {
            var registration = system.ActorOf(RegistrationActor.Props(registry.Get<GovernorActors.ActuatorRegion>()), RegistrationActor.Name);
            registry.Register<GovernorActors.Registration>(registration);
            Akka.Cluster.Tools.Client.ClusterClientReceptionist.Get(system).RegisterService(registration);
        });
}
