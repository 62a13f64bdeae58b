using Akka.Actor;
using Akka.Cluster.Tools.Client;
using Akka.Configuration;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.ClusterTests.Harness;

/// <summary>
/// Asks governor nodes from an actor system outside the cluster (never a member), two ways:
/// <list type="bullet">
/// <item><see cref="StatusAsync"/>: through <see cref="ClusterClient"/>, as a subsystem or the CLI does; one client per
/// initial contact. A client is not pinned to its contact: it fetches every receptionist from it and talks to the first
/// that answers, and moves to another when that one dies; <c>localAffinity</c> makes the node it talks to answer.</item>
/// <item><see cref="NodeStatusAsync"/>: the <c>/user/monitor</c> of exactly that node, by its remote path: that node's
/// own view.</item>
/// </list>
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
        akka.cluster.client.establishing-get-contacts-interval = 1s
        akka.cluster.client.reconnect-timeout = off
        """).WithFallback(Scarcity.Actors.Contracts.ScarcitySerialization.Config).WithFallback(ClusterClientReceptionist.DefaultConfig())
        // The ClusterClient's Send travels under DistributedPubSub's protobuf serializer: the nodes refuse Akka's JSON default.
        .WithFallback(Akka.Cluster.Tools.PublishSubscribe.DistributedPubSub.DefaultConfig());

    private readonly ActorSystem _system;
    private readonly bool _tls;
    private readonly Dictionary<int, IActorRef> _clients = new();

    /// <summary>A probe on <paramref name="system"/> (configured with <see cref="Hocon"/>), of nodes with TLS when <paramref name="tls"/>.</summary>
    /// <param name="system">The probe's actor system.</param>
    /// <param name="tls">Whether the nodes run TLS.</param>
    /// <param name="hostname">The address the nodes are bound to.</param>
    public GovernorProbe(ActorSystem system, bool tls = false, string hostname = "127.0.0.1")
    {
        _system = system;
        _tls = tls;
        _hostname = hostname;
    }

    private readonly string _hostname;

    private string Address(int port) => NodeOptions.Address(port, _tls, _hostname);

    private IActorRef ClientFor(int port)
    {
        if (_clients.TryGetValue(port, out var client)) return client;
        var contact = ActorPath.Parse($"{Address(port)}/system/receptionist");
        var settings = ClusterClientSettings.Create(_system).WithInitialContacts([contact]);
        client = _system.ActorOf(ClusterClient.Props(settings), $"client-{port}");
        _clients[port] = client;
        return client;
    }

    /// <summary>Sends <paramref name="message"/> to the service at <paramref name="path"/> of the node on <paramref name="port"/>.</summary>
    public void Send(int port, string path, object message, IActorRef? sender = null) =>
        ClientFor(port).Tell(new ClusterClient.Send(path, message, localAffinity: true), sender ?? ActorRefs.NoSender);

    /// <summary>Publishes <paramref name="message"/> on the event bus topic <paramref name="topic"/> through the node on <paramref name="port"/>.</summary>
    public void Publish(int port, string topic, object message) => ClientFor(port).Tell(new ClusterClient.Publish(topic, message));

    /// <summary>Asks the operations actor through the node on <paramref name="port"/>; throws on timeout.</summary>
    public Task<T> OperationsAsync<T>(int port, object message, TimeSpan timeout) =>
        ClientFor(port).Ask<T>(new ClusterClient.Send(ServicePaths.Operations, message, localAffinity: true), timeout);

    /// <summary>Asks the node on <paramref name="port"/> for <see cref="GovernorStatus"/>; throws on timeout.</summary>
    public Task<GovernorStatus> StatusAsync(int port, TimeSpan timeout) =>
        ClientFor(port).Ask<GovernorStatus>(new ClusterClient.Send(ServicePaths.Monitor, GetGovernorStatus.Instance, localAffinity: true), timeout);

    /// <summary>
    /// Asks the operations actor through the node on <paramref name="port"/> for the sharding state (regions, shards and
    /// entities per node), asking again while it does not answer, for at most 30 s.
    /// </summary>
    public async Task<ShardingState> ShardingAsync(int port)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            try
            {
                return await ClientFor(port).Ask<ShardingState>(
                    new ClusterClient.Send(ServicePaths.Operations, GetShardingState.Instance, localAffinity: true), TimeSpan.FromSeconds(10));
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
            }
        }
    }

    /// <summary>Asks the monitor of exactly the node on <paramref name="port"/> (its remote path, no ClusterClient).</summary>
    public Task<GovernorStatus> NodeStatusAsync(int port, TimeSpan timeout) =>
        _system.ActorSelection($"{Address(port)}{ServicePaths.Monitor}").Ask<GovernorStatus>(GetGovernorStatus.Instance, timeout);

    /// <summary>
    /// Asks until <paramref name="accept"/> holds for an answer, or fails after <paramref name="within"/> with the last
    /// answer (or error) in the message: the node on <paramref name="port"/> itself (<see cref="NodeStatusAsync"/>), or,
    /// with <paramref name="viaClusterClient"/>, the client whose initial contact it is (<see cref="StatusAsync"/>).
    /// </summary>
    public async Task<GovernorStatus> AwaitStatusAsync(
        int port, Func<GovernorStatus, bool> accept, TimeSpan within, string what, bool viaClusterClient = false)
    {
        var deadline = DateTime.UtcNow + within;
        string last = "no answer";
        while (true)
        {
            try
            {
                var timeout = TimeSpan.FromSeconds(10);
                var status = await (viaClusterClient ? StatusAsync(port, timeout) : NodeStatusAsync(port, timeout));
                if (accept(status)) return status;
                last = "hosts: " + Describe(status);
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                last = "no answer within 10 s";
            }
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{(viaClusterClient ? "ClusterClient with contact" : "node")} on port {port}: {what} not seen within {within.TotalSeconds:0} s; last: {last}");
            await Task.Delay(1000);
        }
    }

    /// <summary>A one-line summary of the hosts in a status: name, profile time, stale series count.</summary>
    public static string Describe(GovernorStatus status) => status.Hosts.Count == 0
        ? "(none)"
        : string.Join(", ", status.Hosts.OrderBy(h => h.Key).Select(h =>
            $"{h.Key}@{h.Value.At:HH:mm:ss.f} ({h.Value.Metrics.Count(m => m.Value.Stale)}/{h.Value.Metrics.Count} stale)"));
}
