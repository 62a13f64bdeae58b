using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Event;
using Akka.Hosting;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Sharding;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Policies;

namespace Scarcity.Actors.Operations;

/// <summary>
/// What an operator (the <c>scarcity</c> CLI) asks of the governor through <c>ClusterClientReceptionist</c> at
/// <see cref="ServicePaths.Operations"/>: membership and its changes (leave, down), the effective policy, where the sharded
/// entities live, the decision log from the journal and the fleet's merged status. Every answer is one of our own
/// records: Akka-internal replies do not survive the trip back through a cluster client.
/// </summary>
public sealed partial class OperationsActor : ReceiveActor
{
    /// <summary>
    /// The entity kinds reported by <see cref="GetShardingState"/>, as regions: since issue 15 both are entities of the one
    /// host region (<see cref="GovernorEntities.HostType"/>), reported per kind with their plain ids (host, subsystem).
    /// </summary>
    public static readonly ImmutableArray<string> RegionTypeNames = [GovernorEntities.ProfilerType, GovernorEntities.ActuatorType];

    private readonly DRGConfig _config;
    private readonly IReadOnlyActorRegistry? _registry;
    private readonly DecisionJournal _journal;
    private readonly TimeSpan _askTimeout;
    // Captured once: the async queries below run outside the actor's context, where Context is not available.
    private readonly ActorSystem _system = Context.System;
    private readonly Cluster _cluster = Cluster.Get(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string? _operatorToken;
    // Who is asking: set per cluster-changing command once authorized, for its log line.
    private string _operator = "";
    private readonly bool _auditEnabled;
    // The journal writer of operator commands; created on first use, again after a journal failure stopped it.
    private IActorRef? _audit;

    /// <summary>Props for the operations actor.</summary>
    /// <param name="config">This node's configuration (policy and persistence).</param>
    /// <param name="registry">The registry holding the shard regions, when the node runs under Akka.Hosting.</param>
    /// <param name="askTimeout">How long a question to another member may take. <value>5 s</value></param>
    public static Props Props(DRGConfig config, IReadOnlyActorRegistry? registry = null, TimeSpan? askTimeout = null) =>
        Akka.Actor.Props.Create(() => new OperationsActor(config, registry, askTimeout ?? TimeSpan.FromSeconds(5)));

    /// <summary>Creates the actor; see <see cref="Props"/>.</summary>
    public OperationsActor(DRGConfig config, IReadOnlyActorRegistry? registry, TimeSpan askTimeout)
    {
        _config = config;
        _registry = registry;
        _askTimeout = askTimeout;
        _journal = new DecisionJournal(config.Persistence, Context.System.Serialization);

        Receive<GetClusterState>(_ => Sender.Tell(DescribeCluster()));
        _operatorToken = config.Operations.ResolveToken();
        _auditEnabled = config.Cluster.IsGovernor; // a sensor-only node has no journal
        Receive<LeaveMember>(m => Operate("leave", m, m.Address, () => Leave(m.Address)));
        Receive<DownMember>(m => Operate("down", m, m.Address, () => Down(m.Address)));
        Receive<DownUnreachable>(m => Operate("down-unreachable", m, "every unreachable member", DownAllUnreachable));
        Receive<Terminated>(t => { if (t.ActorRef.Equals(_audit)) _audit = null; });
        // A sensor-only node has no journal: it hands the record of a command it received to a governor (below).
        Receive<OperatorAction>(RecordForwarded);
        ReceivePolicyVersions(); // GetPolicies, apply, rollback, history: OperationsActor.Policies.cs
        Receive<GetDecisions>(q => Answer(ReadDecisions(q), Sender, "decisions"));
        Receive<GetShardingState>(_ => Answer(CollectSharding(), Sender, "sharding"));
        Receive<GetFleetStatus>(_ => Answer(CollectFleetStatus(), Sender, "status"));
        Receive<GetBudgets>(_ => Answer(AskBudgets(), Sender, "budgets"));
    }

    private void Answer<T>(Task<T> work, IActorRef replyTo, string operation) where T : notnull =>
        work.ContinueWith(t =>
            t.IsCompletedSuccessfully
                ? (object)t.Result
                : new OperationFailed(operation, t.Exception?.GetBaseException().Message ?? "cancelled"),
            TaskScheduler.Default).PipeTo(replyTo);

    private ClusterState DescribeCluster()
    {
        var state = _cluster.State;
        var unreachable = state.Unreachable.Select(m => m.Address).ToHashSet();
        var members = state.Members.OrderBy(m => m.Address.ToString(), StringComparer.Ordinal)
            .Select(m => new ClusterMember(m.Address.ToString(), m.Status.ToString(), [.. m.Roles.Order(StringComparer.Ordinal)], !unreachable.Contains(m.Address)))
            .ToImmutableArray();
        return new ClusterState(_cluster.SelfAddress.ToString(), state.Leader?.ToString(), members,
            [.. unreachable.Select(a => a.ToString()).Order(StringComparer.Ordinal)]);
    }

    private Member? FindMember(string address) =>
        _cluster.State.Members.Concat(_cluster.State.Unreachable)
            .FirstOrDefault(m => string.Equals(m.Address.ToString(), address.TrimEnd('/'), StringComparison.Ordinal));

    private object Leave(string address)
    {
        if (FindMember(address) is not { } member) return NotAMember("leave", address);
        _log.Warning("Operator {0} asked {1} to leave the cluster", _operator, member.Address);
        _cluster.Leave(member.Address);
        return new OperationDone("leave", [member.Address.ToString()], "the member hands over its work, leaves and its process ends");
    }

    private object Down(string address)
    {
        if (FindMember(address) is not { } member) return NotAMember("down", address);
        _log.Warning("Operator {0} marked {1} down", _operator, member.Address);
        _cluster.Down(member.Address);
        return new OperationDone("down", [member.Address.ToString()], "the member is marked down and removed; its shards move to the others");
    }

    private OperationDone DownAllUnreachable()
    {
        var unreachable = _cluster.State.Unreachable.Select(m => m.Address).ToList();
        foreach (var address in unreachable)
        {
            _log.Warning("Operator {0} marked unreachable {1} down", _operator, address);
            _cluster.Down(address);
        }
        if (unreachable.Count == 0) _log.Warning("Operator {0} asked to down the unreachable members: none is unreachable", _operator);
        return new OperationDone("down-unreachable", [.. unreachable.Select(a => a.ToString()).Order(StringComparer.Ordinal)],
            unreachable.Count == 0 ? "no member is unreachable" : "every unreachable member is marked down");
    }

    // Authorizes, carries out, answers, and records the command (allowed or refused) in this node's journal.
    private void Operate(string operation, IOperatorCommand command, string target, Func<object> act)
    {
        var refused = Authorize(operation, command, target);
        var answer = refused ?? act();
        Sender.Tell(answer);
        var identity = IdentityOf(command);
        var detail = answer switch
        {
            OperationDone done => done.Detail,
            OperationFailed failed => failed.Reason,
            _ => "",
        };
        var action = new OperatorAction(operation, target, identity, MessageOrigin.Of(Sender).ToString(), refused is null && answer is OperationDone, detail,
            DateTimeOffset.UtcNow);
        if (_auditEnabled) Journal(action);
        else ForwardToGovernor(action);
    }

    private void Journal(OperatorAction action)
    {
        if (_audit is null)
        {
            _audit = Context.ActorOf(OperatorAuditActor.Props(OperatorAuditActor.PersistenceIdFor(_cluster.SelfAddress)), "operator-audit");
            Context.Watch(_audit);
        }
        _audit.Tell(action);
    }

    // A sensor-only node's command goes to the journal of the oldest Up governor, its origin saying which node received
    // it (the governor writes it under its own operator-audit id: one writer per persistence id). With no governor Up it
    // is in this node's log only, which says so.
    private void ForwardToGovernor(OperatorAction action)
    {
        var governor = _cluster.State.Members
            .Where(m => m.Status == MemberStatus.Up && m.HasRole(GovernorEntities.GovernorRole) && !_cluster.State.Unreachable.Contains(m))
            .OrderBy(m => m, Member.AgeOrdering).FirstOrDefault();
        if (governor is null)
        {
            _log.Warning("Operator command {0} of {1} by {2} is in this log only: this node has no journal and no governor is Up to write it",
                action.Operation, action.Target, action.Operator);
            return;
        }
        var forwarded = action with { Origin = $"{action.Origin} via {_cluster.SelfAddress}" };
        _system.ActorSelection(new RootActorPath(governor.Address) / "user" / "operations").Tell(forwarded, Self);
    }

    // Only a member of this cluster may add to the record (a client reaching this actor through the receptionist may not).
    private void RecordForwarded(OperatorAction action)
    {
        var from = Sender.Path.Address;
        if (!_auditEnabled || !_cluster.State.Members.Any(m => m.Address == from && m.Status == MemberStatus.Up))
        {
            _log.Warning("Ignored an operator command record from {0}: {1}", from,
                _auditEnabled ? "only a member of this cluster may hand one over" : "this node has no journal");
            return;
        }
        Journal(action);
    }

    /// <summary>
    /// Null when <paramref name="command"/> carries the configured operator token (compared in constant time), else the
    /// refusal to answer. Every attempt is logged at Warning with who said they were asking and the address it came from.
    /// </summary>
    private OperationFailed? Authorize(string operation, IOperatorCommand command, string target)
    {
        var origin = MessageOrigin.Of(Sender);
        var identity = IdentityOf(command);
        _operator = $"{identity} from {origin}";
        if (_operatorToken is null)
        {
            _log.Warning("Refused {0} of {1} asked by {2}: no operator token is configured on this node", operation, target, _operator);
            return new OperationFailed(operation,
                $"{operation} needs an operator token, and none is configured on the governor nodes: set {OperationsConfig.Section}:OperatorToken " +
                $"(or {OperationsConfig.Section}:OperatorTokenFile) on every node, then give it to the CLI with --token or SCARCITY_TOKEN");
        }
        if (!OperationsConfig.Matches(_operatorToken, command.Credential?.Token))
        {
            _log.Warning("Refused {0} of {1} asked by {2}: {3}", operation, target, _operator,
                command.Credential is null ? "no operator token given" : "wrong operator token");
            return new OperationFailed(operation,
                command.Credential is null ? $"{operation} needs the operator token: give it with --token or SCARCITY_TOKEN" : "the operator token is wrong");
        }
        return null;
    }

    // Who the command says is asking, bounded for the log and the journal.
    private static string IdentityOf(IOperatorCommand command) =>
        command.Credential?.Identity is { Length: > 0 } id ? (id.Length > 100 ? id[..100] : id) : "(no identity)";

    private OperationFailed NotAMember(string operation, string address) =>
        new(operation, $"{address} is not a member of the cluster (members: {string.Join(", ", _cluster.State.Members.Select(m => m.Address))})");

    /// <summary>The effective policy: per subsystem key, the rules that govern it.</summary>
    public static PolicySet DescribePolicy(PolicyConfig policy)
    {
        var settings = new PolicySettings(policy.Cooldown, policy.RecoveryDelay, policy.RecoveryStep, policy.MinLevel, policy.MaxScaleUp,
            [.. policy.CustomActions]);
        var rules = ImmutableDictionary.CreateBuilder<string, ImmutableArray<PolicyRuleView>>(StringComparer.Ordinal);
        if (policy.Policies.Count == 0)
            rules["*"] = [.. PolicyRule.Defaults.Select(View)];
        else
            foreach (var key in policy.Policies.Keys)
                rules[key] = key == "*" ? [.. policy.Policies[key].Select(View)] : [.. policy.RulesFor(key).Select(View)];
        return new PolicySet(settings, policy.Policies.Count == 0, rules.ToImmutable());
    }

    private static PolicyRuleView View(PolicyRule r) => new(
        r.Metric, r.Signal.ToString().ToLowerInvariant(), r.Direction.ToString().ToLowerInvariant(), r.Threshold, r.EffectiveRelease,
        r.Action, r.Factor, r.Priority, r.Cooldown, r.ToString());

    private IEnumerable<Address> OtherUpMembers() =>
        _cluster.State.Members.Where(m => m.Status == MemberStatus.Up && m.Address != _cluster.SelfAddress)
            .Select(m => m.Address).Where(a => !_cluster.State.Unreachable.Any(u => u.Address == a));

    private async Task<DecisionPage> ReadDecisions(GetDecisions query)
    {
        if (query.Limit < 1) return new DecisionPage([], []);
        var local = await _journal.ReadAsync(query);
        if (query.LocalOnly) return new DecisionPage(local, []);

        var errors = ImmutableArray.CreateBuilder<string>();
        var remote = await Task.WhenAll(OtherUpMembers().Select(async address =>
        {
            try
            {
                var answer = await _system.ActorSelection(new RootActorPath(address) / "user" / "operations")
                    .Ask<object>(query with { LocalOnly = true }, _askTimeout);
                if (answer is DecisionPage page) return page.Decisions;
                lock (errors) errors.Add($"{address}: {(answer as OperationFailed)?.Reason ?? answer.ToString()}");
            }
            catch (Exception e)
            {
                lock (errors) errors.Add($"{address}: {e.Message}");
            }
            return [];
        }));
        // One shared database answers the same rows on every member: (persistence id, sequence) is the key.
        var merged = local.Concat(remote.SelectMany(r => r))
            .DistinctBy(d => (d.PersistenceId, d.SequenceNr))
            .OrderBy(d => d.Decision.At).ThenBy(d => d.PersistenceId, StringComparer.Ordinal).ThenBy(d => d.SequenceNr)
            .TakeLast(query.Limit);
        return new DecisionPage([.. merged], errors.ToImmutable());
    }

    private async Task<GovernorStatus> CollectFleetStatus()
    {
        var members = _cluster.State.Members.Where(m => m.Status == MemberStatus.Up)
            .Select(m => m.Address).Where(a => !_cluster.State.Unreachable.Any(u => u.Address == a)).ToList();
        if (!members.Contains(_cluster.SelfAddress)) members.Add(_cluster.SelfAddress);
        var answers = await Task.WhenAll(members.Select(async address =>
        {
            try
            {
                return await _system.ActorSelection(new RootActorPath(address) / "user" / "monitor")
                    .Ask<GovernorStatus>(GetGovernorStatus.Instance, _askTimeout);
            }
            catch (Exception e)
            {
                _log.Warning("The monitor of {0} did not answer: {1}", address, e.Message);
                return null;
            }
        }));
        var statuses = answers.OfType<GovernorStatus>().ToList();
        if (statuses.Count == 0) throw new TimeoutException("no monitor answered");
        var hosts = statuses.SelectMany(s => s.Hosts.Values).GroupBy(h => h.Host)
            .ToImmutableDictionary(g => g.Key, g => g.MaxBy(h => h.At)!);
        var subsystems = statuses.SelectMany(s => s.Subsystems.Values).GroupBy(s => s.Name)
            .ToImmutableDictionary(g => g.Key, g => g.OrderByDescending(s => s.Reachable).ThenByDescending(s => s.LastSequence).First());
        return new GovernorStatus(hosts, subsystems, statuses.Sum(s => s.RejectedSamples));
    }

    private IActorRef? Region()
    {
        if (_registry?.TryGet<GovernorActors.ProfilerRegion>(out var fromRegistry) == true) return fromRegistry;
        try
        {
            return ClusterSharding.Get(_system).ShardRegion(GovernorEntities.HostType);
        }
        catch (Exception)
        {
            return null; // not started on this node (yet): reported empty
        }
    }

    private async Task<ShardingState> CollectSharding()
    {
        var self = _cluster.SelfAddress.ToString();
        var regions = ImmutableArray.CreateBuilder<ShardRegionState>();
        if (Region() is not { } region)
        {
            foreach (var typeName in RegionTypeNames)
                regions.Add(new ShardRegionState(self, typeName, ImmutableDictionary<string, ImmutableArray<string>>.Empty));
            return new ShardingState(regions.ToImmutable());
        }
        var stats = await region.Ask<ClusterShardingStats>(new GetClusterShardingStats(_askTimeout), _askTimeout + _askTimeout);
        if (stats.Regions.Count == 0)
            foreach (var typeName in RegionTypeNames)
                regions.Add(new ShardRegionState(self, typeName, ImmutableDictionary<string, ImmutableArray<string>>.Empty));
        foreach (var (address, regionStats) in stats.Regions.OrderBy(r => r.Key.ToString(), StringComparer.Ordinal))
        {
            var shards = await EntitiesOn(address, GovernorEntities.HostType)
                         ?? regionStats.Stats.Keys.ToImmutableDictionary(id => id, _ => ImmutableArray<string>.Empty);
            regions.Add(new ShardRegionState(address.ToString(), GovernorEntities.ProfilerType,
                shards.ToImmutableDictionary(s => s.Key, s => s.Value.Select(GovernorEntities.ProfilerHostOf).OfType<string>().ToImmutableArray())));
            regions.Add(new ShardRegionState(address.ToString(), GovernorEntities.ActuatorType,
                shards.ToImmutableDictionary(s => s.Key, s => s.Value
                    .Select(id => GovernorEntities.TryParseActuator(id, out _, out var subsystem) ? subsystem : null).OfType<string>().ToImmutableArray())));
        }
        return new ShardingState(regions.ToImmutable());
    }

    /// <summary>Shard id to entity ids of the region of <paramref name="typeName"/> on <paramref name="address"/>; null if it did not answer.</summary>
    private async Task<ImmutableDictionary<string, ImmutableArray<string>>?> EntitiesOn(Address address, string typeName)
    {
        try
        {
            var state = await _system.ActorSelection(new RootActorPath(address) / "system" / "sharding" / typeName)
                .Ask<CurrentShardRegionState>(GetShardRegionState.Instance, _askTimeout);
            return state.Shards.ToImmutableDictionary(s => s.ShardId, s => s.EntityIds.Order(StringComparer.Ordinal).ToImmutableArray());
        }
        catch (Exception e)
        {
            _log.Warning("The {0} region on {1} did not answer: {2}", typeName, address, e.Message);
            return null;
        }
    }
}
