using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Policies;

/// <summary>
/// Every node's holder of the current policy (<c>/user/policy-versions</c>): follows <see cref="PolicyTopics.Versions"/> and
/// asks the policy store (<see cref="GetCurrentPolicy"/>) at start and every <see cref="PullInterval"/>, so a node that
/// started, or missed a publication, catches up within seconds. It binds each new version once and hands it to the
/// node's actuators through <see cref="NodePolicy"/>.
/// </summary>
public sealed class PolicyHolderActor : ReceiveActor, IWithTimers
{
    /// <summary>How often the store is asked for the current policy (besides following its publications). <value>10 s</value></summary>
    public static readonly TimeSpan PullInterval = TimeSpan.FromSeconds(10);

    private sealed class Pull : INoSerializationVerificationNeeded
    {
        public static readonly Pull Instance = new();
    }

    private readonly IActorRef _store;
    private readonly PolicyConfig _file;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private CurrentPolicy? _adopted;

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props of the holder; <paramref name="store"/> is the store's singleton proxy, <paramref name="file"/> this node's configured policy.</summary>
    public static Props Props(IActorRef store, PolicyConfig file) => Akka.Actor.Props.Create(() => new PolicyHolderActor(store, file));

    /// <summary>Creates the holder; see <see cref="Props"/>.</summary>
    public PolicyHolderActor(IActorRef store, PolicyConfig file)
    {
        _store = store;
        _file = file;
        Receive<Pull>(_ => _store.Tell(GetCurrentPolicy.Instance, Self));
        Receive<CurrentPolicy>(Adopt);
        Receive<SubscribeAck>(_ => { });
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        DistributedPubSub.Get(Context.System).Mediator.Tell(new Subscribe(PolicyTopics.Versions, Self));
        Self.Tell(Pull.Instance);
        Timers.StartPeriodicTimer("pull", Pull.Instance, PullInterval);
    }

    private void Adopt(CurrentPolicy current)
    {
        if (_adopted is { } known && (current.Live.Version < known.Live.Version
                                      || current.Live.Version == known.Live.Version && current.Candidate?.Version == known.Candidate?.Version)) return;
        var live = PolicyDocument.Bind(current.Live.Policy, out var errors);
        var candidate = current.Candidate is { } c ? PolicyDocument.Bind(c.Policy, out errors) : null;
        if (live is null || current.Candidate is not null && candidate is null)
        {
            _log.Error($"Policy version {current.Live.Version}{(current.Candidate is { } cv ? $"/{cv.Version}" : "")} does not bind on this node (a newer release wrote it?): {string.Join("; ", errors)}; this node keeps its current policy");
            return;
        }
        var first = _adopted is null;
        _adopted = current;
        NodePolicy.Get(Context.System).Adopt(Context.System, new ActivePolicy(current.Live.Version, live, current.Candidate?.Version, candidate));
        var dry = current.Candidate is { } d ? $", dry-run candidate version {d.Version} by {d.Author} beside it" : "";
        if (first && current.Live.Policy != PolicyDocument.ToJson(_file))
            _log.Warning($"This node's configuration file policy is not used: the policy store's version {current.Live.Version} (by {current.Live.Author} at {current.Live.At:u}) governs{dry} (scarcity policies history)");
        else
            _log.Info($"Policy version {current.Live.Version} (by {current.Live.Author} at {current.Live.At:u}) governs this node{dry}");
    }
}
