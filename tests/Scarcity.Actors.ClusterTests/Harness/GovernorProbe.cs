using Akka.Actor;
using Akka.Cluster.Tools.Client;
using Akka.Configuration;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.ClusterTests.Harness;

/// <summary>
/// Asks governor nodes through <see cref="ClusterClient"/> from an actor system outside the cluster, as a subsystem or the
/// CLI does: one client per node (that node's receptionist as the only initial contact), <c>localAffinity</c> so that the
/// node it is connected to answers.
/// </summary>
public sealed class GovernorProbe
{
    /// <summary>
    /// HOCON of a probe system: remoting on a free loopback port, not a cluster member, our serializer bound to every
    /// <see cref="IScarcityMessage"/>.
    /// </summary>
    public static Config Hocon { get; } = ConfigurationFactory.ParseString("""
        akka.loglevel = INFO
        akka.actor.provider = remote
        akka.remote.log-remote-lifecycle-events = off
        akka.remote.dot-netty.tcp.hostname = 127.0.0.1
        akka.remote.dot-netty.tcp.port = 0
        akka.actor.serializers.scarcity = "Scarcity.Actors.Contracts.ScarcitySerializer, Scarcity.Actors.Contracts"
        akka.actor.serialization-bindings {
          "Scarcity.Actors.Contracts.IScarcityMessage, Scarcity.Actors.Contracts" = scarcity
        }
        akka.cluster.client.establishing-get-contacts-interval = 1s
        akka.cluster.client.reconnect-timeout = off
        """).WithFallback(ClusterClientReceptionist.DefaultConfig());

    private readonly ActorSystem _system;
    private readonly Dictionary<int, IActorRef> _clients = new();

    /// <summary>A probe on <paramref name="system"/> (configured with <see cref="Hocon"/>).</summary>
    public GovernorProbe(ActorSystem system) => _system = system;

    private IActorRef ClientFor(int port)
    {
        if (_clients.TryGetValue(port, out var client)) return client;
        var contact = ActorPath.Parse($"{NodeOptions.Address(port)}/system/receptionist");
        var settings = ClusterClientSettings.Create(_system).WithInitialContacts([contact]);
        client = _system.ActorOf(ClusterClient.Props(settings), $"client-{port}");
        _clients[port] = client;
        return client;
    }

    /// <summary>Asks the node on <paramref name="port"/> for <see cref="GovernorStatus"/>; throws on timeout.</summary>
    public Task<GovernorStatus> StatusAsync(int port, TimeSpan timeout) =>
        ClientFor(port).Ask<GovernorStatus>(new ClusterClient.Send(ServicePaths.Monitor, GetGovernorStatus.Instance, localAffinity: true), timeout);

    /// <summary>
    /// Asks until <paramref name="accept"/> holds for an answer of the node on <paramref name="port"/>, or fails after
    /// <paramref name="within"/> with the last answer (or error) in the message.
    /// </summary>
    public async Task<GovernorStatus> AwaitStatusAsync(int port, Func<GovernorStatus, bool> accept, TimeSpan within, string what)
    {
        var deadline = DateTime.UtcNow + within;
        string last = "no answer";
        while (true)
        {
            try
            {
                var status = await StatusAsync(port, TimeSpan.FromSeconds(10));
                if (accept(status)) return status;
                last = "hosts: " + Describe(status);
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                last = "no answer within 10 s";
            }
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"node on port {port}: {what} not seen within {within.TotalSeconds:0} s; last: {last}");
            await Task.Delay(1000);
        }
    }

    /// <summary>A one-line summary of the hosts in a status: name, profile time, stale series count.</summary>
    public static string Describe(GovernorStatus status) => status.Hosts.Count == 0
        ? "(none)"
        : string.Join(", ", status.Hosts.OrderBy(h => h.Key).Select(h =>
            $"{h.Key}@{h.Value.At:HH:mm:ss.f} ({h.Value.Metrics.Count(m => m.Value.Stale)}/{h.Value.Metrics.Count} stale)"));
}
