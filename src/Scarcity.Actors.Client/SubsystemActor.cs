using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.Client;
using Akka.Event;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Client;

/// <summary>
/// The governed actor of a subsystem process. Registers through the cluster client until the governor answers, then
/// DeathWatches the actuator that answered: when it dies (governor restart, failover, lost network) it registers again by
/// itself. Applies Throttles in sequence order through the subsystem's handlers and acks each, applied or not.
/// </summary>
internal sealed class SubsystemActor : ReceiveActor, IWithTimers
{
    private sealed class RegisterTick : INoSerializationVerificationNeeded
    {
        public static readonly RegisterTick Instance = new();
    }

    /// <summary>No confirmation within the connect timeout: does any contact's receptionist answer at all?</summary>
    private sealed record ContactProbeTimeout(int Probe) : INoSerializationVerificationNeeded;

    private const string RegisterTimer = "register";
    private const string ProbeTimer = "contact-probe";
    private static readonly TimeSpan ContactProbeTimeoutAfter = TimeSpan.FromSeconds(5);

    private readonly GovernedSubsystemOptions _options;
    private readonly SubsystemState _state;
    private readonly ClusterClientSettings _clientSettings;
    private IActorRef _client = ActorRefs.Nobody;
    private int _clientIncarnation;
    private readonly ThrottleSequencer _sequencer;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _contacts;
    private IActorRef? _actuator;
    private DateTimeOffset _registeringSince;
    private bool _outageLogged;
    private string? _lastRejection;
    private int _probe;
    private bool _probeAnswered;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(GovernedSubsystemOptions options, SubsystemState state, ClusterClientSettings clientSettings) =>
        Akka.Actor.Props.Create(() => new SubsystemActor(options, state, clientSettings));

    public SubsystemActor(GovernedSubsystemOptions options, SubsystemState state, ClusterClientSettings clientSettings)
    {
        _options = options;
        _state = state;
        _clientSettings = clientSettings;
        _sequencer = new ThrottleSequencer(options.Actions);
        _contacts = string.Join(", ", options.Contacts);

        Receive<RegisterTick>(_ => Register());
        Receive<ActorIdentity>(OnContactAnswered);
        Receive<ContactProbeTimeout>(OnContactProbeTimeout);
        ReceiveAsync<SubsystemRegistered>(OnRegistered);
        Receive<RegistrationRejected>(OnRejected);
        ReceiveAsync<Throttle>(OnThrottle);
        Receive<Terminated>(t =>
        {
            if (_actuator is null || !t.ActorRef.Equals(_actuator)) return;
            _log.Warning("Subsystem {0}: lost the governor's actuator {1} (governor restart, failover or network loss); registering again",
                _options.Name, t.ActorRef.Path);
            _actuator = null;
            NewClient(); // the old client would keep its dead receptionist until its own failure detector gives up
            StartRegistering();
        });
    }

    protected override void PreStart()
    {
        NewClient();
        StartRegistering();
    }

    private void NewClient()
    {
        if (!_client.IsNobody()) Context.Stop(_client);
        _client = Context.ActorOf(ClusterClient.Props(_clientSettings), "governor-client-" + ++_clientIncarnation);
        _state.Client = _client;
    }

    private void StartRegistering()
    {
        _state.Lost();
        _registeringSince = Context.System.Scheduler.Now;
        _outageLogged = false;
        Register();
        Timers.StartPeriodicTimer(RegisterTimer, RegisterTick.Instance, _options.RegisterInterval);
    }

    private void Register()
    {
        if (!_outageLogged && Context.System.Scheduler.Now - _registeringSince >= _options.ConnectTimeout)
        {
            // Unconfirmed is not unreachable: after a failover the governor answers at once but the subsystem's actuator
            // answers only when its shard has moved. Ask the receptionists themselves before calling it an outage.
            _outageLogged = true;
            _probeAnswered = false;
            _probe++;
            foreach (var path in _options.ReceptionistPaths()) Context.ActorSelection(path).Tell(new Identify(_probe));
            Timers.StartSingleTimer(ProbeTimer, new ContactProbeTimeout(_probe), ContactProbeTimeoutAfter);
        }
        _client.Tell(new ClusterClient.Send(ServicePaths.Policy,
            new RegisterSubsystem(_options.Name, _options.Host, _options.Priority, [.. _options.Actions.Order(StringComparer.Ordinal)], Self, _options.LatencyObjectiveMs,
                _options.Reports is { Count: > 0 } reports ? [.. reports] : null)));
    }

    private void OnContactAnswered(ActorIdentity identity)
    {
        if (identity.MessageId is not int probe || probe != _probe || identity.Subject is null || _probeAnswered || _state.IsRegistered) return;
        _probeAnswered = true;
        Timers.Cancel(ProbeTimer);
        _log.Warning("Subsystem {0}: the governor at {1} answers but has not confirmed the registration within {2:0.#} s " +
                     "(its actuator is starting, or moving to another node after a failover); still trying every {3:0.#} s",
            _options.Name, identity.Subject.Path.Address, _options.ConnectTimeout.TotalSeconds, _options.RegisterInterval.TotalSeconds);
    }

    private void OnContactProbeTimeout(ContactProbeTimeout timeout)
    {
        if (timeout.Probe != _probe || _probeAnswered || _state.IsRegistered) return;
        var error = $"Subsystem {_options.Name}: no governor answered at {_contacts} within {_options.ConnectTimeout.TotalSeconds:0.#} s; " +
                    $"check the contact address and that the governor is running (still trying every {_options.RegisterInterval.TotalSeconds:0.#} s)";
        _state.LastError = error;
        _log.Error(error);
    }

    private async Task OnRegistered(SubsystemRegistered registered)
    {
        // A second answer of the same actuator (two attempts crossed the first reply) carries the same levels.
        var repeated = _state.IsRegistered && Sender.Equals(_actuator);
        Timers.Cancel(RegisterTimer);
        Timers.Cancel(ProbeTimer);
        if (_actuator is not null && !_actuator.Equals(Sender)) Context.Unwatch(_actuator);
        _actuator = Sender;
        Context.Watch(_actuator);
        _lastRejection = null;
        foreach (var (action, level) in _sequencer.Register(registered))
        {
            var (applied, detail) = await Run(action, level, null);
            if (applied) _sequencer.SetLevel(action, level);
            else _log.Warning("Subsystem {0}: level {1}={2} from the registration was not applied: {3}", _options.Name, action, level, detail);
        }
        if (repeated)
        {
            _state.Applied(_sequencer.Levels, _sequencer.LastApplied);
            return;
        }
        _state.Registered(registered, _sequencer.Levels, _sequencer.LastApplied);
        _log.Info("Subsystem {0} registered with {1}; levels {2}; last sequence {3}", _options.Name, Sender.Path,
            string.Join(", ", registered.Levels.Select(l => $"{l.Key}={l.Value:0.###}")), registered.LastSequence);
    }

    private void OnRejected(RegistrationRejected rejected)
    {
        if (_actuator is not null) return; // a late answer to an older attempt; we are registered
        if (_lastRejection != rejected.Reason)
        {
            _lastRejection = rejected.Reason;
            _log.Error("Subsystem {0}: the governor rejected the registration: {1} (asking again every {2:0.#} s)",
                _options.Name, rejected.Reason, _options.RejectedRetryInterval.TotalSeconds);
        }
        _state.Rejected(rejected.Reason);
        Timers.StartPeriodicTimer(RegisterTimer, RegisterTick.Instance, _options.RejectedRetryInterval);
    }

    private async Task OnThrottle(Throttle throttle)
    {
        var replyTo = Sender;
        ThrottleAck ack;
        switch (_sequencer.Check(throttle))
        {
            case ThrottleVerdict.Stale:
                ack = new ThrottleAck(_options.Name, throttle.Sequence, false, _sequencer.StaleDetail(throttle));
                break;
            case ThrottleVerdict.UnknownAction:
                _sequencer.Complete(throttle, applied: false);
                ack = new ThrottleAck(_options.Name, throttle.Sequence, false,
                    $"unknown action '{throttle.Action}': subsystem '{_options.Name}' has no handler for it");
                _log.Warning("Subsystem {0}: Throttle seq {1} for unknown action {2} ignored", _options.Name, throttle.Sequence, throttle.Action);
                break;
            default:
                var (applied, detail) = await Run(throttle.Action, throttle.Level, throttle);
                _sequencer.Complete(throttle, applied);
                ack = new ThrottleAck(_options.Name, throttle.Sequence, applied, detail);
                break;
        }
        ack = ack with { Host = throttle.Host }; // routes an ack through the front door to the actuator without a look-up
        _state.Applied(_sequencer.Levels, _sequencer.LastApplied);
        if (replyTo.IsNobody()) _client.Tell(new ClusterClient.Send(ServicePaths.Policy, ack));
        else replyTo.Tell(ack);
    }

    private async Task<(bool Applied, string Detail)> Run(string action, double level, Throttle? throttle)
    {
        var handler = _options.Handlers[action];
        try
        {
            var task = handler(level, throttle);
            var applied = task.IsCompleted ? task.Result : await task.WaitAsync(_options.HandlerTimeout);
            return applied ? (true, "applied") : (false, $"handler for '{action}' declined level {level:0.###}");
        }
        catch (TimeoutException)
        {
            _log.Error("Subsystem {0}: handler for {1} did not finish within {2}", _options.Name, action, _options.HandlerTimeout);
            return (false, $"handler for '{action}' timed out after {_options.HandlerTimeout.TotalSeconds:0.#} s");
        }
        catch (Exception e)
        {
            var cause = e is AggregateException { InnerException: { } inner } ? inner : e;
            _log.Error(cause, "Subsystem {0}: handler for {1} threw applying level {2}", _options.Name, action, level);
            return (false, $"handler for '{action}' failed: {cause.GetType().Name}: {cause.Message}");
        }
    }
}

/// <summary>What the governed actor publishes to other threads: immutable snapshots behind volatile fields.</summary>
internal sealed class SubsystemState
{
    private readonly object _gate = new();
    private TaskCompletionSource _registered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile ImmutableDictionary<string, double> _levels = ImmutableDictionary<string, double>.Empty;
    private long _lastApplied;
    private volatile bool _isRegistered;
    private volatile string? _lastError;

    public ImmutableDictionary<string, double> Levels => _levels;

    /// <summary>The current cluster client; replaced when the governor is lost.</summary>
    public IActorRef Client
    {
        get => Volatile.Read(ref _client);
        set => Volatile.Write(ref _client, value);
    }

    private IActorRef _client = ActorRefs.Nobody;
    public long LastApplied => Interlocked.Read(ref _lastApplied);
    public bool IsRegistered => _isRegistered;

    public string? LastError
    {
        get => _lastError;
        set => _lastError = value;
    }

    public Task WhenRegistered
    {
        get { lock (_gate) return _registered.Task; }
    }

    public event EventHandler<SubsystemRegistered>? OnRegistered;

    public event EventHandler<string>? OnRejected;

    public void Registered(SubsystemRegistered registered, ImmutableDictionary<string, double> levels, long lastApplied)
    {
        Applied(levels, lastApplied);
        _lastError = null;
        _isRegistered = true;
        lock (_gate) _registered.TrySetResult();
        Raise(OnRegistered, registered);
    }

    private void Raise<T>(EventHandler<T>? handler, T args)
    {
        try
        {
            handler?.Invoke(this, args);
        }
        catch (Exception)
        {
            // a subscriber's failure must not stop the governed actor
        }
    }

    public void Applied(ImmutableDictionary<string, double> levels, long lastApplied)
    {
        _levels = levels;
        Interlocked.Exchange(ref _lastApplied, lastApplied);
    }

    public void Lost()
    {
        _isRegistered = false;
        lock (_gate)
            if (_registered.Task.IsCompleted) _registered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>The client's actor system stopped for good: waiting callers fail with <paramref name="reason"/>.</summary>
    public void Stopped(string reason)
    {
        _isRegistered = false;
        _lastError = reason;
        lock (_gate)
        {
            if (_registered.Task.IsCompleted) _registered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _registered.TrySetException(new InvalidOperationException(reason));
            _ = _registered.Task.Exception; // observed: the reason is also on LastError
        }
    }

    public void Rejected(string reason)
    {
        _isRegistered = false;
        _lastError = "registration rejected: " + reason;
        lock (_gate)
        {
            _registered.TrySetException(new RegistrationRejectedException(reason));
            _ = _registered.Task.Exception; // observed: the reason is also on LastError and OnRejected
            _registered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        Raise(OnRejected, reason);
    }
}
