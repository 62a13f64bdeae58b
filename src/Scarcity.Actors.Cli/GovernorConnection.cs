using System.Net;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Cluster.Tools.Client;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Configuration;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Cli;

/// <summary>
/// The CLI's way into the governor: a small actor system (<c>provider = remote</c>, port 0, our serializer) that asks
/// the <c>ClusterClientReceptionist</c> of the first given node that answers, with the receptionist's own protocol (a
/// DistributedPubSub <c>Send</c> with local affinity, the reply through the receptionist's response tunnel). So the node
/// named with <c>--contact</c> is the node that answers: a <see cref="ClusterClient"/> would use whichever of the
/// receptionists it learns of answered first (a node with other operator settings, say). It never joins the cluster,
/// so it changes neither gossip, nor majorities, nor shard allocation.
/// </summary>
public sealed class GovernorConnection : IAsyncDisposable
{
    /// <summary>The actor system name every governor node shares.</summary>
    public const string GovernorSystemName = "scarcity";

    private readonly ActorSystem _system;
    private readonly IActorRef _receptionist;
    private readonly TimeSpan _timeout;

    private GovernorConnection(ActorSystem system, IActorRef receptionist, IReadOnlyList<string> contacts, TimeSpan timeout)
    {
        _system = system;
        _receptionist = receptionist;
        Contacts = contacts;
        _timeout = timeout;
    }

    /// <summary>The governor addresses given.</summary>
    public IReadOnlyList<string> Contacts { get; }

    /// <summary>
    /// <c>akka.tcp://scarcity@host:port</c> from either that form or a plain <c>host:port</c>; a bad form is a usage error.
    /// </summary>
    /// <param name="contact">The address as given.</param>
    /// <param name="tls">Whether the cluster runs TLS: the address becomes <c>akka.ssl.tcp://</c> whichever scheme was written.</param>
    public static string NormalizeContact(string contact, bool tls = false)
    {
        var text = contact.Trim().TrimEnd('/');
        if (text.EndsWith("/system/receptionist", StringComparison.Ordinal)) text = text[..^"/system/receptionist".Length];
        if (!text.Contains("://", StringComparison.Ordinal)) text = $"akka.tcp://{GovernorSystemName}@{text}";
        text = RemotingTls.WithScheme(text, tls);
        try
        {
            var address = Address.Parse(text);
            if (address.Host is null || address.Port is null or <= 0) throw new UriFormatException("no host or port");
            return address.ToString();
        }
        catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException)
        {
            throw new CliUsageException($"'{contact}' is not a governor address (akka.tcp://scarcity@host:port or host:port)");
        }
    }

    /// <summary>
    /// Starts the client and checks that at least one contact's receptionist answers within <paramref name="connectTimeout"/>;
    /// otherwise fails naming every address tried. With <paramref name="tls"/> the CLI presents that certificate and
    /// accepts only governors whose certificates chain to its CA.
    /// </summary>
    /// <exception cref="CliUsageException">A TLS file cannot be used (the message names it).</exception>
    public static async Task<GovernorConnection> ConnectAsync(
        IReadOnlyList<string> contacts, TimeSpan connectTimeout, TimeSpan timeout, CancellationToken cancellationToken,
        RemotingTlsOptions? tls = null)
    {
        var addresses = contacts.Select(c => NormalizeContact(c, tls is not null)).Distinct().ToList();
        var config = ClientConfig(addresses);
        if (tls is not null) config = ConfigurationFactory.ParseString(RemotingTls.Hocon(tls)).WithFallback(config);
        ActorSystemSetup setup;
        try
        {
            setup = RemotingTls.Apply(ActorSystemSetup.Create(BootstrapSetup.Create().WithConfig(config)), tls);
        }
        catch (ArgumentException e)
        {
            throw new CliUsageException(e.Message);
        }
        var system = ActorSystem.Create("scarcity-cli", setup);
        try
        {
            var answers = await Task.WhenAll(addresses.Select(async a =>
            {
                try
                {
                    var identity = await system.ActorSelection(a + "/system/receptionist")
                        .Ask<ActorIdentity>(new Identify(a), connectTimeout, cancellationToken);
                    return identity.Subject;
                }
                catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
                {
                    return null;
                }
            }));
            cancellationToken.ThrowIfCancellationRequested();
            // The first contact in the order given whose receptionist answered.
            var receptionist = answers.FirstOrDefault(r => r is not null);
            if (receptionist is null)
                throw new CliException(
                    $"cannot reach the governor at {string.Join(", ", addresses)}: no receptionist answered within {connectTimeout.TotalSeconds:0.#} s" +
                    (tls is null ? "" : " (with TLS: is the CLI's certificate from the governor's CA, and the governor's from --tls-ca?)"));

            return new GovernorConnection(system, receptionist, addresses, timeout);
        }
        catch
        {
            await Shutdown(system);
            throw;
        }
    }

    /// <summary>Sends <paramref name="message"/> to the service at <paramref name="path"/> and returns its answer of type <typeparamref name="T"/>.</summary>
    public async Task<T> AskAsync<T>(string path, object message, CancellationToken cancellationToken = default)
    {
        object answer;
        try
        {
            answer = await _receptionist.Ask<object>(new Send(path, message, localAffinity: true), _timeout, cancellationToken);
        }
        catch (AskTimeoutException)
        {
            throw new CliException(
                $"the governor at {string.Join(", ", Contacts)} did not answer {path} within {_timeout.TotalSeconds:0.#} s (raise --timeout?)");
        }
        return answer switch
        {
            T t => t,
            OperationFailed f => throw new CliException($"{f.Operation} failed: {f.Reason}"),
            _ => throw new CliException($"unexpected answer from {path}: {answer.GetType().Name}"),
        };
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await Shutdown(_system);

    private static async Task Shutdown(ActorSystem system)
    {
        try
        {
            await system.Terminate().WaitAsync(TimeSpan.FromSeconds(3));
        }
        catch (TimeoutException)
        {
            // leaving a connection half-closed is harmless for a process about to exit
        }
    }

    private static Config ClientConfig(IReadOnlyList<string> addresses)
    {
        var loopback = addresses.All(a => Address.Parse(a).Host is { } h && (h == "localhost" || IPAddress.TryParse(h, out var ip) && IPAddress.IsLoopback(ip)));
        var hostname = Environment.GetEnvironmentVariable("SCARCITY_CLI_HOSTNAME")
                       ?? (loopback ? "127.0.0.1" : Dns.GetHostName());
        return ConfigurationFactory.ParseString($$"""
            akka {
              loglevel = OFF
              stdout-loglevel = OFF
              log-dead-letters = off
              log-dead-letters-during-shutdown = off
              actor {
                provider = remote
              }
              remote {
                log-remote-lifecycle-events = off
                dot-netty.tcp { hostname = "{{hostname}}", port = 0 }
              }
            }
            """).WithFallback(ScarcitySerialization.Config).WithFallback(ClusterClientReceptionist.DefaultConfig())
            // The client wraps each question in DistributedPubSub's Send: its protobuf binding is there (Akka's JSON
            // fallback, which carried it before, is disabled on every system bound with ScarcitySerialization).
            .WithFallback(Akka.Cluster.Tools.PublishSubscribe.DistributedPubSub.DefaultConfig());
    }
}
