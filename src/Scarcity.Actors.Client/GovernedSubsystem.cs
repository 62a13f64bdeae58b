using System.Collections.Immutable;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Cluster.Tools.Client;
using Akka.Configuration;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Client;

/// <summary>The governor refused a registration (e.g. the name is held by another live process).</summary>
/// <param name="reason">The governor's reason.</param>
public sealed class RegistrationRejectedException(string reason) : Exception("The governor rejected the registration: " + reason)
{
    /// <summary>The governor's reason, as it gave it.</summary>
    public string Reason { get; } = reason;
}

/// <summary>
/// A process governed from outside the governor cluster. It runs its own actor system (remoting only, port 0 by default,
/// never a cluster member), connects through <c>ClusterClient</c> to the governor's receptionist, registers, applies every
/// Throttle through the handlers of <see cref="GovernedSubsystemOptions"/> in sequence order and acks it, and registers
/// again by itself whenever the governor's actuator is lost (restart, failover, network). Reports app metrics with
/// <see cref="Report"/>. Every member is safe to call from any thread.
/// </summary>
/// <example>
/// <code>
/// var options = new GovernedSubsystemOptions { Name = "inference_engine", Contacts = ["akka.tcp://scarcity@127.0.0.1:4053"] }
///     .On("reduce_batch", (level, _) => engine.MaxBatch = (int)(64 * level));
/// await using var governed = GovernedSubsystem.Start(options);
/// governed.Report(new Dictionary&lt;string, double&gt; { ["latency_ms"] = 120 });
/// </code>
/// </example>
public sealed class GovernedSubsystem : IAsyncDisposable
{
    /// <summary>The actor system name of a subsystem process.</summary>
    public const string SystemName = "scarcity-subsystem";

    private readonly GovernedSubsystemOptions _options;
    private readonly SubsystemState _state;
    private readonly IReadOnlyList<ActorPath> _contacts;

    private GovernedSubsystem(GovernedSubsystemOptions options, ActorSystem system, SubsystemState state, IActorRef actor, IReadOnlyList<ActorPath> contacts)
    {
        _options = options;
        System = system;
        _state = state;
        Actor = actor;
        _contacts = contacts;
    }

    /// <summary>Validates the options, starts the actor system and begins registering; does not wait for the governor.</summary>
    /// <exception cref="ArgumentException">An option is invalid (the message names it), e.g. an unparseable contact address.</exception>
    public static GovernedSubsystem Start(GovernedSubsystemOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.EnsureValid();
        var contacts = options.ReceptionistPaths();
        var setup = RemotingTls.Apply(ActorSystemSetup.Create(BootstrapSetup.Create().WithConfig(ClientConfig(options))), options.Tls);
        var system = ActorSystem.Create(SystemName, setup);
        try
        {
            var settings = ClusterClientSettings.Create(system).WithInitialContacts(contacts.ToImmutableHashSet());
            var state = new SubsystemState();
            var actor = system.ActorOf(SubsystemActor.Props(options, state, settings), "subsystem");
            // Akka may stop the client's system itself (Akka.Remote stops a system whose outbound TLS handshake fails):
            // then waiting for a registration fails at once with the reason instead of timing out.
            var shutdown = CoordinatedShutdown.Get(system);
            system.WhenTerminated.ContinueWith(_ => state.Stopped(StoppedReason(options, shutdown.ShutdownReason)), TaskScheduler.Default);
            return new GovernedSubsystem(options, system, state, actor, contacts);
        }
        catch
        {
            system.Dispose();
            throw;
        }
    }

    private static string StoppedReason(GovernedSubsystemOptions options, CoordinatedShutdown.Reason? reason) =>
        RemotingTls.IsHandshakeFailure(reason)
            ? $"Subsystem {options.Name} stopped: a TLS handshake with the governor failed ({reason}); check " +
              $"{nameof(GovernedSubsystemOptions)}.{nameof(GovernedSubsystemOptions.Tls)}: its certificate must be from the governor's CA, and its CA " +
              "the one that signed the governor's certificate"
            : $"Subsystem {options.Name} stopped ({(reason is null or CoordinatedShutdown.ClrExitReason ? "disposed" : reason.ToString())}); start a new one to be governed again";

    /// <summary>The HOCON of a subsystem's actor system: remote provider, the Scarcity serializer, cluster-client and pub-sub serializers.</summary>
    public static Config ClientConfig(GovernedSubsystemOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var publicHost = options.PublicHostname is null ? "" : $"public-hostname = \"{options.PublicHostname}\"";
        var hocon = $$"""
            akka {
              actor {
                provider = remote
              }
              remote.dot-netty.tcp {
                hostname = "{{options.Hostname}}"
                {{publicHost}}
                port = {{options.Port}}
              }
            }
            """;
        // The client wraps each message in Akka's pub-sub Send: both serializers must be bound, or Newtonsoft JSON
        // (the default) carries it and the governor cannot read our immutable collections back.
        if (options.Tls is not null) hocon += Environment.NewLine + RemotingTls.Hocon(options.Tls);
        var config = ConfigurationFactory.ParseString(hocon)
            .WithFallback(ScarcitySerialization.Config)
            .WithFallback(ClusterClientReceptionist.DefaultConfig())
            .WithFallback(Akka.Cluster.Tools.PublishSubscribe.DistributedPubSub.DefaultConfig());
        return string.IsNullOrWhiteSpace(options.ExtraHocon) ? config : ConfigurationFactory.ParseString(options.ExtraHocon).WithFallback(config);
    }

    /// <summary>The subsystem's name.</summary>
    public string Name => _options.Name;

    /// <summary>The client's actor system (remoting only).</summary>
    public ActorSystem System { get; }

    /// <summary>The actor that receives Throttles; its reference is what the governor holds.</summary>
    public IActorRef Actor { get; }

    /// <summary>The level applied for each action that was ever restricted; a missing action is at 1.</summary>
    public IReadOnlyDictionary<string, double> Levels => _state.Levels;

    /// <summary>The level applied for <paramref name="action"/>, 1 when never restricted.</summary>
    public double LevelOf(string action) => _state.Levels.TryGetValue(action, out var level) ? level : 1.0;

    /// <summary>The newest Throttle sequence applied (or taken from the last registration).</summary>
    public long LastAppliedSequence => _state.LastApplied;

    /// <summary>True while registered with a live actuator.</summary>
    public bool IsRegistered => _state.IsRegistered;

    /// <summary>The newest problem (governor unreachable, registration rejected, the client stopped); null once registered.</summary>
    public string? LastError => _state.LastError;

    /// <summary>
    /// Raised after every (re)registration, once the levels it carried were handed to the handlers; on the client's actor
    /// thread, so keep it short. An exception thrown by a subscriber is swallowed.
    /// </summary>
    public event EventHandler<SubsystemRegistered>? Registered
    {
        add => _state.OnRegistered += value;
        remove => _state.OnRegistered -= value;
    }

    /// <summary>Raised with the governor's reason each time it rejects the registration; the client asks again after <see cref="GovernedSubsystemOptions.RejectedRetryInterval"/>.</summary>
    public event EventHandler<string>? Rejected
    {
        add => _state.OnRejected += value;
        remove => _state.OnRejected -= value;
    }

    /// <summary>Waits until the subsystem is registered.</summary>
    /// <exception cref="RegistrationRejectedException">The governor rejected the registration.</exception>
    /// <exception cref="TimeoutException">No governor answered in time; the message names the contacts.</exception>
    /// <exception cref="InvalidOperationException">The client stopped (disposed, or Akka stopped it after a failed TLS handshake: the message says which).</exception>
    public async Task WaitUntilRegisteredAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        try
        {
            await _state.WhenRegistered.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Subsystem {Name} was not registered within {timeout.TotalSeconds:0.#} s by a governor at " +
                                       $"{string.Join(", ", _options.Contacts)}{(LastError is null ? "" : ": " + LastError)}");
        }
    }

    /// <summary>
    /// Sends app metrics (e.g. <c>latency_ms</c>, <c>queue_depth</c>) to the governor, profiled as
    /// <c>metric{subsystem="name"}</c> of this host. Fire and forget; dropped while no governor is connected. Profiled only
    /// while this subsystem holds its registration: the governor counts (as rejected readings) and drops reports sent before
    /// the registration is accepted or while another process holds the name.
    /// </summary>
    /// <param name="values">Metric base name to value.</param>
    /// <param name="at">When measured; default now.</param>
    /// <exception cref="ArgumentException">A name is empty or a value is NaN or infinite; nothing is sent.</exception>
    public void Report(IReadOnlyDictionary<string, double> values, DateTimeOffset? at = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        foreach (var (metric, value) in values)
        {
            if (string.IsNullOrWhiteSpace(metric)) throw new ArgumentException($"Subsystem {Name}: a reported metric has an empty name.", nameof(values));
            if (!double.IsFinite(value))
                throw new ArgumentException($"Subsystem {Name}: metric '{metric}' is {value}; only finite values can be reported (nothing was sent).", nameof(values));
        }
        // The governor profiles a report only from the actor that holds the registration; through ClusterClient it sees the
        // receptionist's tunnel as the sender, so the report names that actor itself.
        var report = new ReportMetrics(_options.Name, _options.Host, values.ToImmutableDictionary(StringComparer.Ordinal), at ?? DateTimeOffset.UtcNow, Actor);
        _state.Client.Tell(new ClusterClient.Send(ServicePaths.Profilers, report));
    }

    /// <summary>The contacts as receptionist paths.</summary>
    public IReadOnlyList<ActorPath> ContactPaths => _contacts;

    /// <summary>Stops the actor system; the governor sees the subsystem die and marks it down.</summary>
    public async ValueTask DisposeAsync()
    {
        await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance).ConfigureAwait(false);
    }
}
