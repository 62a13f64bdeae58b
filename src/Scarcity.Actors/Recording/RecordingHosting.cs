using Akka.Hosting;
using Scarcity.Actors.Configuration;

namespace Scarcity.Actors.Recording;

/// <summary>Akka.Hosting set-up of the telemetry recording.</summary>
public static class RecordingHosting
{
    /// <summary>
    /// On a governor node, the <see cref="TelemetryRecorderActor"/> at <c>/user/telemetry-recorder</c> (a ClusterClient
    /// service, so <c>scarcity replay</c> can page through its recording), handed to the profilers through
    /// <see cref="TelemetryRecording"/> when <c>Scarcity:Recording:Enabled</c>. Must come before the profilers.
    /// </summary>
    public static AkkaConfigurationBuilder WithRecording(this AkkaConfigurationBuilder builder, DRGConfig config)
    {
        if (!config.Cluster.IsGovernor) return builder;
        return builder.WithActors((system, registry) =>
        {
            var recorder = system.ActorOf(TelemetryRecorderActor.Props(config.Recording), "telemetry-recorder");
            registry.Register<TelemetryRecorderActor>(recorder);
            if (config.Recording.Enabled) TelemetryRecording.Get(system).Recorder = recorder;
            Akka.Cluster.Tools.Client.ClusterClientReceptionist.Get(system).RegisterService(recorder);
        });
    }
}
