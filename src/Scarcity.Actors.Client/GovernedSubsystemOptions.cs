using Akka.Actor;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Client;

/// <summary>
/// Applies one level of one action. <paramref name="throttle"/> is the governor's message, or null when the level comes
/// from a (re)registration. Return true when applied, false when the subsystem declined (acked with Applied = false).
/// An exception is caught, logged and acked with Applied = false; it never stops the client.
/// </summary>
/// <param name="level">The absolute level in (0, 1] (above 1 for <c>scale_up</c>).</param>
/// <param name="throttle">The Throttle, or null for a level carried by <see cref="SubsystemRegistered"/>.</param>
public delegate Task<bool> LevelHandler(double level, Throttle? throttle);

/// <summary>How a process is governed: its name, host, where the governor is, and what each action does.</summary>
public sealed class GovernedSubsystemOptions
{
    private readonly Dictionary<string, LevelHandler> _handlers = new(StringComparer.Ordinal);

    /// <summary>Unique subsystem name, e.g. <c>inference_engine</c>. Required.</summary>
    public string Name { get; set; } = "";

    /// <summary>The host this process runs on; that host's metrics govern it. <value>Default: the machine name.</value></summary>
    public string Host { get; set; } = Environment.MachineName;

    /// <summary>Higher is more important. <value>Default: 1.</value></summary>
    public int Priority { get; set; } = 1;

    /// <summary>
    /// The latency objective in milliseconds that this process's <c>latency_ms</c> reports should stay under; null leaves
    /// it to the governor's configuration. <value>Default: null.</value>
    /// </summary>
    public double? LatencyObjectiveMs { get; set; }

    /// <summary>
    /// The metrics this subsystem reports about itself with <see cref="GovernedSubsystem.Report"/> (<c>latency_ms</c>,
    /// <c>queue_depth</c>, <c>context_k</c>, <c>oom_total</c>), said at registration. An engine that reports <c>context_k</c>
    /// gets the governor's prior <c>reduce_batch</c> level (<c>Scarcity:Policy:LearnedInitialLevel</c>, 0.5) at its first
    /// registration, before it has reported anything. Empty (the default): it does not say.
    /// </summary>
    public IReadOnlyList<string> Reports { get; set; } = [];

    /// <summary>
    /// Governor nodes to connect through, as node addresses (<c>akka.tcp://scarcity@127.0.0.1:4053</c>) or full receptionist
    /// paths (<c>.../system/receptionist</c>). At least one is required. <value>Default: none.</value>
    /// </summary>
    public IList<string> Contacts { get; set; } = [];

    /// <summary>Interface the client's remoting binds to. <value>Default: 127.0.0.1.</value></summary>
    public string Hostname { get; set; } = "127.0.0.1";

    /// <summary>Address the governor uses to reach this process, when different from <see cref="Hostname"/> (NAT, containers). <value>Default: null.</value></summary>
    public string? PublicHostname { get; set; }

    /// <summary>Port the client's remoting binds to; 0 picks a free one. <value>Default: 0.</value></summary>
    public int Port { get; set; }

    /// <summary>How often a registration is retried until the governor answers. <value>Default: 2 s.</value></summary>
    public TimeSpan RegisterInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long after a rejection the client asks again (a name held by a live process is freed when the governor sees that process die). <value>Default: 5 s.</value></summary>
    public TimeSpan RejectedRetryInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>No answer from any contact for this long is logged as an error naming the contacts (once per outage). <value>Default: 10 s.</value></summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A handler running longer than this is acked with Applied = false. <value>Default: 10 s.</value></summary>
    public TimeSpan HandlerTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// TLS for the connection to the governor (the governor's <c>Scarcity:Cluster:Tls</c>): this process's certificate
    /// from the governor's CA, and that CA. With it, contacts may still be written <c>akka.tcp://</c>: they are dialled as
    /// <c>akka.ssl.tcp://</c>. Null: plain TCP. <value>Default: null.</value>
    /// </summary>
    public RemotingTlsOptions? Tls { get; set; }

    /// <summary>Extra HOCON for the client's actor system (e.g. <c>akka.loglevel = WARNING</c>); placed before the client's own settings. <value>Default: null.</value></summary>
    public string? ExtraHocon { get; set; }

    /// <summary>The declared actions (those with a handler), sent in the registration.</summary>
    public IReadOnlyCollection<string> Actions => _handlers.Keys;

    internal IReadOnlyDictionary<string, LevelHandler> Handlers => _handlers;

    /// <summary>Declares <paramref name="action"/> with an asynchronous handler returning whether it applied the level.</summary>
    /// <exception cref="ArgumentException">The action name is not lower-case letters, digits and underscores.</exception>
    public GovernedSubsystemOptions On(string action, LevelHandler handler)
    {
        if (!ActionNames.IsValid(action))
            throw new ArgumentException($"Action name '{action}' is invalid: use lower-case letters, digits and underscores (e.g. '{ActionNames.ReduceBatch}').", nameof(action));
        ArgumentNullException.ThrowIfNull(handler);
        _handlers[action] = handler;
        return this;
    }

    /// <summary>Declares <paramref name="action"/> with a synchronous handler returning whether it applied the level.</summary>
    public GovernedSubsystemOptions On(string action, Func<double, Throttle?, bool> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return On(action, (level, throttle) => Task.FromResult(handler(level, throttle)));
    }

    /// <summary>Declares <paramref name="action"/> with a handler that applies every level it is given (or throws).</summary>
    public GovernedSubsystemOptions On(string action, Action<double, Throttle?> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return On(action, (level, throttle) => { handler(level, throttle); return Task.FromResult(true); });
    }

    /// <summary>Declares <paramref name="action"/> with an asynchronous handler that applies every level it is given (or throws).</summary>
    public GovernedSubsystemOptions On(string action, Func<double, Throttle?, Task> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return On(action, async (level, throttle) => { await handler(level, throttle).ConfigureAwait(false); return true; });
    }

    /// <summary>The receptionist path of every contact, parsed.</summary>
    internal IReadOnlyList<ActorPath> ReceptionistPaths() =>
        Contacts.Select(c => ToReceptionistPath(RemotingTls.WithScheme(c.Trim(), Tls is not null))).ToList();

    /// <summary>
    /// Every problem with these options, each naming the option and the bad value; empty when they are usable. The same
    /// shape as the governor's own configuration classes: list everything, throw once (<see cref="EnsureValid"/>).
    /// </summary>
    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(Name)) yield return "GovernedSubsystemOptions.Name is empty: give the subsystem a unique name, e.g. 'inference_engine'.";
        if (string.IsNullOrWhiteSpace(Host)) yield return $"GovernedSubsystemOptions.Host is empty for subsystem '{Name}': give the host whose metrics govern it.";
        if (_handlers.Count == 0) yield return $"Subsystem '{Name}' declares no actions: add a handler with On(\"{ActionNames.ReduceBatch}\", ...).";
        if (Contacts is null || Contacts.Count == 0)
            yield return "GovernedSubsystemOptions.Contacts is empty: give at least one governor node, e.g. 'akka.tcp://scarcity@127.0.0.1:4053'.";
        else
            foreach (var contact in Contacts)
                if (!TryReceptionistPath(contact, out _))
                    yield return $"Contact address '{contact}' is not a governor node address; expected e.g. 'akka.tcp://scarcity@127.0.0.1:4053'.";
        if (Port is < 0 or > 65535) yield return $"GovernedSubsystemOptions.Port {Port} is not a port (0..65535).";
        if (Tls is not null && !File.Exists(Tls.CertificatePath))
            yield return $"GovernedSubsystemOptions.Tls.CertificatePath '{Tls.CertificatePath}' does not exist (this process's .pfx from the governor's CA).";
        if (Tls?.CaCertificatePath is { Length: > 0 } ca && !File.Exists(ca))
            yield return $"GovernedSubsystemOptions.Tls.CaCertificatePath '{ca}' does not exist (the governor's CA, PEM).";
        foreach (var (value, name) in new[] { (RegisterInterval, nameof(RegisterInterval)), (RejectedRetryInterval, nameof(RejectedRetryInterval)),
                     (ConnectTimeout, nameof(ConnectTimeout)), (HandlerTimeout, nameof(HandlerTimeout)) })
            if (value <= TimeSpan.Zero) yield return $"GovernedSubsystemOptions.{name} must be positive, was {value}.";
    }

    /// <summary>Throws when an option is invalid, listing every problem (<see cref="Validate"/>).</summary>
    /// <exception cref="ArgumentException">At least one option is invalid.</exception>
    public void EnsureValid()
    {
        var problems = Validate().ToList();
        if (problems.Count > 0) throw new ArgumentException(string.Join(Environment.NewLine, problems));
    }

    private static ActorPath ToReceptionistPath(string contact) =>
        TryReceptionistPath(contact, out var path)
            ? path
            : throw new ArgumentException($"Contact address '{contact}' is not a governor node address; expected e.g. 'akka.tcp://scarcity@127.0.0.1:4053'.");

    private static bool TryReceptionistPath(string? contact, out ActorPath path)
    {
        var text = contact?.Trim() ?? "";
        if (!text.Contains("/system/", StringComparison.Ordinal)) text = text.TrimEnd('/') + "/system/receptionist";
        return ActorPath.TryParse(text, out path!) && path.Address.Host is not null && path.Address.Port is > 0;
    }
}
