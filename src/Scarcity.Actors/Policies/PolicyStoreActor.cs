using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Akka.Pattern;
using Akka.Persistence;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Policies;

/// <summary>
/// The one writer of policy versions: a cluster singleton on the <c>governor</c> nodes, persistence id
/// <see cref="PersistenceIdValue"/>, whose journal (through <see cref="ScarcitySerializer"/>, manifest <c>policy-version.v1</c>)
/// is the history. When the journal is empty it records the configuration file's policy of the node it first runs on as
/// version 1. Each new version is validated as at start-up (<see cref="PolicyDocument.Bind"/>), persisted with its diff against
/// the previous one, then published on <see cref="PolicyTopics.Versions"/>; a failover recovers the same history on another node.
/// </summary>
public sealed class PolicyStoreActor : ReceivePersistentActor
{
    /// <summary>The store's persistence id, fixed forever.</summary>
    public const string PersistenceIdValue = "policy-store";

    /// <summary>The author of version 1.</summary>
    public const string ConfigurationAuthor = "configuration";

    private readonly PolicyConfig _file;
    private readonly List<PolicyVersion> _versions = [];
    private readonly Dictionary<int, PolicyConfig> _bound = [];
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _mediator = DistributedPubSub.Get(Context.System).Mediator;

    /// <summary>Props of the store; <paramref name="file"/> becomes version 1 when the journal is empty.</summary>
    public static Props Props(PolicyConfig file) => Akka.Actor.Props.Create(() => new PolicyStoreActor(file));

    /// <summary>
    /// The singleton's props: the store under a backoff supervisor (0.5 s doubling to 10 s), so a journal that fails a write
    /// (which stops a persistent actor) brings the store back by itself, recovering its history again.
    /// </summary>
    public static Props SupervisedProps(PolicyConfig file) =>
        BackoffSupervisor.Props(Backoff.OnStop(Props(file), "store", TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(10), 0.2, -1));

    /// <inheritdoc />
    public override string PersistenceId => PersistenceIdValue;

    /// <summary>Creates the store; see <see cref="Props"/>.</summary>
    public PolicyStoreActor(PolicyConfig file)
    {
        _file = file;
        Recover<PolicyVersion>(v => _versions.Add(v));
        Recover<RecoveryCompleted>(_ =>
        {
            if (_versions.Count == 0)
            {
                var first = new PolicyVersion(1, DateTimeOffset.UtcNow, ConfigurationAuthor, PolicyDocument.ToJson(_file), [], _file.DryRun);
                Persist(first, v =>
                {
                    _versions.Add(v);
                    _log.Info("Policy store was empty: recorded this node's configuration file policy as version 1");
                    Publish();
                });
            }
            else
            {
                _log.Info($"Policy store recovered {_versions.Count} version(s); version {_versions[^1].Version} by {_versions[^1].Author} at {_versions[^1].At:u} is the newest");
                Publish();
            }
        });
        Command<GetCurrentPolicy>(_ => Sender.Tell(Current()));
        Command<GetPolicyVersions>(q => Sender.Tell(new PolicyVersions(
            [.. _versions.Where(v => v.Version >= (q.From ?? 1) && v.Version <= (q.To ?? int.MaxValue))], _versions.Count == 0 ? 0 : _versions[^1].Version)));
        Command<ApplyPolicy>(a => Record(a.Policy, a.Author, null));
        Command<RollbackPolicy>(r =>
        {
            if (_versions.Find(v => v.Version == r.Version) is not { } old)
            {
                Sender.Tell(new PolicyRejected([$"no policy version {r.Version}: the versions are 1 to {_versions.Count}"]));
                return;
            }
            Record(old.Policy, r.Author, old.Version);
        });
    }

    private CurrentPolicy Current()
    {
        var newest = _versions[^1];
        var live = _versions.FindLast(v => !v.DryRun) ?? newest;
        return new CurrentPolicy(live, newest.DryRun && newest.Version > live.Version ? newest : null);
    }

    private void Publish() => _mediator.Tell(new Publish(PolicyTopics.Versions, Current()));

    private PolicyConfig Bound(PolicyVersion version)
    {
        if (_bound.TryGetValue(version.Version, out var policy)) return policy;
        // A version this node's code cannot bind (written by a newer release) compares as the configuration file's.
        policy = PolicyDocument.Bind(version.Policy, out _) ?? _file;
        _bound[version.Version] = policy;
        return policy;
    }

    private void Record(string json, string author, int? rollbackOf)
    {
        var policy = PolicyDocument.Bind(json, out var errors);
        if (policy is null)
        {
            Sender.Tell(new PolicyRejected([.. errors]));
            return;
        }
        var newest = _versions[^1];
        var canonical = PolicyDocument.ToJson(policy);
        var diff = PolicyDocument.Diff(Bound(newest), policy);
        if (canonical == newest.Policy || diff.IsEmpty && policy.DryRun == newest.DryRun)
        {
            Sender.Tell(new PolicyApplied(newest, Unchanged: true));
            return;
        }
        var version = new PolicyVersion(newest.Version + 1, DateTimeOffset.UtcNow, author.Length > 200 ? author[..200] : author, canonical, diff,
            policy.DryRun, rollbackOf);
        var replyTo = Sender;
        Persist(version, v =>
        {
            _versions.Add(v);
            _bound[v.Version] = policy;
            _log.Warning($"Policy version {v.Version}{(v.DryRun ? " (dry-run)" : "")} recorded, by {v.Author}{(rollbackOf is { } r ? $" (rollback to v{r})" : "")}: {v.Summary}");
            replyTo.Tell(new PolicyApplied(v));
            Publish();
        });
    }
}
