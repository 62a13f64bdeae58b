using Akka.Actor;
using Scarcity.Actors.Configuration;

namespace Scarcity.Actors.Gateway;

/// <summary>What the gateway's calls share: the node's actor system and actors, the settings, the instruments, and the token cancelled when the node stops serving.</summary>
/// <param name="System">The node's actor system.</param>
/// <param name="Registration">The registration front door (<c>/user/policy</c>).</param>
/// <param name="Profilers">The profilers' gateway (<c>/user/profilers</c>), where reports go.</param>
/// <param name="Operations">The operations actor (<c>/user/operations</c>), which answers fleet and decision queries.</param>
/// <param name="Config">The gateway's settings.</param>
/// <param name="Metrics">The gateway's instruments.</param>
/// <param name="Stopping">Cancelled when the node stops serving: every open stream ends with <c>UNAVAILABLE</c>.</param>
internal sealed record GatewayContext(
    ActorSystem System, IActorRef Registration, IActorRef Profilers, IActorRef Operations, GatewayConfig Config, GatewayMetrics Metrics, CancellationToken Stopping)
{
    private int _open;

    /// <summary>Govern calls running now.</summary>
    public int OpenStreams => Volatile.Read(ref _open);

    /// <summary>A Govern call started.</summary>
    public void StreamStarted() => Interlocked.Increment(ref _open);

    /// <summary>A Govern call's handler returned or threw.</summary>
    public void StreamEnded() => Interlocked.Decrement(ref _open);
}
