using Akka.Hosting;
using Scarcity.Actors.Configuration;

namespace Scarcity.Actors.Actuation;

/// <summary>Akka.Hosting set-up of the actuation stage.</summary>
public static class ActuationHosting
{
    /// <summary>
    /// The per-subsystem <see cref="ActuatorActor"/> entities: since issue 15 they live in the host region of
    /// <see cref="Profiling.ProfilingHosting.WithProfilers"/>, next to their host's profiler; this registers that region
    /// as <see cref="GovernorActors.ActuatorRegion"/> too. Needs <see cref="Profiling.ProfilingHosting.WithProfilers"/> first.
    /// </summary>
    public static AkkaConfigurationBuilder WithActuators(this AkkaConfigurationBuilder builder, DRGConfig config) =>
        builder.WithActors((_, registry) => registry.Register<GovernorActors.ActuatorRegion>(registry.Get<GovernorActors.ProfilerRegion>()));
}
