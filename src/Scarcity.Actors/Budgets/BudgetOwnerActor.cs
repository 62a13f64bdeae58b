using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Akka.Persistence;
using Prometheus;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Metrics;
using Scarcity.Actors.Policies.Budgets;

namespace Scarcity.Actors.Budgets;

/// <summary>
/// The one owner of every fleet budget (a cluster singleton on the <c>governor</c> role, <see cref="BudgetsHosting"/>).
/// Follows the hosts' labels (<see cref="BudgetTopics.HostLabels"/>), the telemetry digests (each governor node's
/// newest profiles, once per view interval) and the subsystems' states on the event bus, seeds itself from the node's
/// fleet view when it starts, evaluates <see cref="FleetBudgets"/> once per view interval and sends each cap change to
/// the subsystem's actuator entity (<see cref="ApplyBudgetCap"/>). Its caps are event-sourced in its own journal
/// (persistence id <c>budget-owner</c>): a new owner after a failover recovers them, sends them again (the actuators
/// ignore a cap they already hold) and carries on from them, so the caps neither vanish nor double. Every
/// <see cref="ReassertEvery"/> it sends the caps it holds again, so an actuator that lost one (recovered from an
/// older snapshot) gets it back.
/// </summary>
public sealed class BudgetOwnerActor : ReceivePersistentActor
{
    private sealed class Tick : INoSerializationVerificationNeeded
    {
        public static readonly Tick Instance = new();
    }

    private sealed class Reassert : INoSerializationVerificationNeeded
    {
        public static readonly Reassert Instance = new();
    }

    /// <summary>The persistence id of the budget owner's journal.</summary>
    public const string OwnerPersistenceId = "budget-owner";

    /// <summary>How often the owner sends every cap it holds again.</summary>
    public static readonly TimeSpan ReassertEvery = TimeSpan.FromSeconds(30);

    private readonly FleetBudgets _budgets;
    private readonly IActorRef _actuators;
    private readonly IActorRef _monitor;
    private readonly TimeSpan _interval;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, ImmutableDictionary<string, string>> _labels = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (HostProfile Profile, DateTimeOffset ReceivedAt)> _profiles = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SubsystemStatus> _subsystems = new(StringComparer.Ordinal);
    // (budget, subsystem) -> the cap as last sent, for the re-assertion and the status after a failover.
    private readonly Dictionary<(string Budget, string Subsystem), ApplyBudgetCap> _held = new();
    private readonly Gauge _value, _limit, _caps, _excluded;
    private ICancelable? _tick, _reassert;

    /// <summary>Props of the owner of <paramref name="budgets"/>, evaluating every <paramref name="interval"/>.</summary>
    /// <param name="budgets">The budgets (validated configuration).</param>
    /// <param name="actuators">The actuator shard region (or proxy).</param>
    /// <param name="monitor">This node's fleet view, asked once at start for the hosts and subsystems known so far.</param>
    /// <param name="interval">Evaluation interval: the view interval (digests arrive at that pace).</param>
    public static Props Props(IReadOnlyList<FleetBudget> budgets, IActorRef actuators, IActorRef monitor, TimeSpan interval) =>
        Akka.Actor.Props.Create(() => new BudgetOwnerActor(budgets, actuators, monitor, interval));

    /// <summary>Creates the owner; see <see cref="Props"/>.</summary>
    public BudgetOwnerActor(IReadOnlyList<FleetBudget> budgets, IActorRef actuators, IActorRef monitor, TimeSpan interval)
    {
        _budgets = new FleetBudgets(budgets);
        _actuators = actuators;
        _monitor = monitor;
        _interval = interval;
        var f = Prometheus.Metrics.WithCustomRegistry(GovernorMetrics.Get(Context.System).Registry);
        _value = f.CreateGauge("scarcity_budget_value", "A fleet budget's aggregate at its last evaluation (the metric's unit), on the owner node.", ["budget", "metric", "aggregate"]);
        _limit = f.CreateGauge("scarcity_budget_limit", "A fleet budget's limit (the metric's unit), on the owner node.", ["budget", "metric", "aggregate"]);
        _caps = f.CreateGauge("scarcity_budget_caps", "Subsystems a fleet budget caps now, on the owner node.", ["budget", "action"]);
        _excluded = f.CreateGauge("scarcity_budget_hosts_excluded", "Selected hosts left out of a budget's value (no reading, or too old), on the owner node.", ["budget"]);

        Recover<ApplyBudgetCap>(Remember);
        Recover<RecoveryCompleted>(_ => Started());

        Command<Tick>(_ => Evaluate());
        Command<Reassert>(_ =>
        {
            foreach (var cap in _held.Values) _actuators.Tell(cap);
        });
        Command<HostLabels>(l => _labels[l.Host] = l.Labels);
        Command<TelemetryDigest>(d =>
        {
            foreach (var t in d.Hosts) Offer(t.Profile);
        });
        Command<SubsystemDigest>(d =>
        {
            foreach (var s in d.Statuses) _subsystems[s.Name] = s;
        });
        Command<GovernorStatus>(seed =>
        {
            foreach (var profile in seed.Hosts.Values) Offer(profile);
            foreach (var (name, status) in seed.Subsystems) _subsystems.TryAdd(name, status);
        });
        Command<GetBudgets>(_ => Sender.Tell(new BudgetsStatus(Cluster.Get(Context.System).SelfAddress.ToString(), _budgets.Status(Now))));
        Command<SubscribeAck>(_ => { });
        Command<Status.Failure>(f => _log.Warning("Budget owner could not read the fleet view at start ({0}); it learns the fleet from the event bus", f.Cause.Message));
    }

    /// <inheritdoc />
    public override string PersistenceId => OwnerPersistenceId;

    private DateTimeOffset Now => Context.System.Scheduler.Now;

    private void Offer(HostProfile profile)
    {
        // After a failover two nodes may briefly report one host: the newer profile wins.
        if (_profiles.TryGetValue(profile.Host, out var known) && known.Profile.At > profile.At) return;
        _profiles[profile.Host] = (profile, Now);
    }

    private void Remember(ApplyBudgetCap cap)
    {
        if (cap.Level >= 1) _held.Remove((cap.Budget, cap.Subsystem));
        else _held[(cap.Budget, cap.Subsystem)] = cap;
    }

    private void Started()
    {
        // A budget removed from the configuration while it held caps: release them.
        var releases = _held.Values
            .Where(cap => !_budgets.Restore(cap.Budget, cap.Subsystem, cap.Host, cap.Priority, cap.Level, cap.At))
            .Select(cap => cap with { Level = 1, Reason = cap.Reason with { Rule = $"budget {cap.Budget} is no longer configured" }, At = Now })
            .ToList();
        if (releases.Count > 0)
            PersistAll(releases, r =>
            {
                Remember(r);
                _actuators.Tell(r);
            });
        foreach (var cap in _held.Values) _actuators.Tell(cap);
        if (_held.Count > 0)
            _log.Info("Budget owner started on {0} with {1} caps from its journal: {2}", Cluster.Get(Context.System).SelfAddress, _held.Count,
                string.Join(", ", _held.Values.Select(c => $"{c.Budget}:{c.Subsystem}/{c.Action}={c.Level:0.###}")));
        else _log.Info("Budget owner started on {0} ({1} budgets)", Cluster.Get(Context.System).SelfAddress, _budgets.Budgets.Count);

        var mediator = DistributedPubSub.Get(Context.System).Mediator;
        foreach (var topic in new[] { BudgetTopics.HostLabels, Topics.TelemetryDigest, Topics.SubsystemDigest })
            mediator.Tell(new Subscribe(topic, Self));
        _monitor.Ask<GovernorStatus>(GetGovernorStatus.Instance, TimeSpan.FromSeconds(10)).PipeTo(Self);
        _tick = Context.System.Scheduler.ScheduleTellRepeatedlyCancelable(_interval, _interval, Self, Tick.Instance, Self);
        _reassert = Context.System.Scheduler.ScheduleTellRepeatedlyCancelable(ReassertEvery, ReassertEvery, Self, Reassert.Instance, Self);
    }

    private void Evaluate()
    {
        var now = Now;
        var hosts = _profiles.Keys.Concat(_labels.Keys).Distinct(StringComparer.Ordinal).ToDictionary(
            h => h,
            h => _profiles.TryGetValue(h, out var p)
                ? new BudgetHost(_labels.GetValueOrDefault(h), p.Profile, p.ReceivedAt)
                : new BudgetHost(_labels.GetValueOrDefault(h), null),
            StringComparer.Ordinal);
        var subsystems = _subsystems.Values.Where(s => s.Reachable).ToDictionary(
            s => s.Name, s => new BudgetSubsystem(s.Name, s.Host, s.Priority, s.Levels.Keys.ToHashSet(StringComparer.Ordinal)), StringComparer.Ordinal);
        var changes = _budgets.Evaluate(now, hosts, subsystems);
        if (changes.Count > 0)
        {
            var events = changes.Select(c => new ApplyBudgetCap(c.Subsystem, c.Budget, c.Action, c.Level, c.Reason, c.At, c.Host, c.Priority)).ToList();
            PersistAll(events, cap =>
            {
                Remember(cap);
                _actuators.Tell(cap);
                _log.Info("Budget {0}: {1}/{2} {3} ({4})", cap.Budget, cap.Subsystem, cap.Action,
                    cap.Level >= 1 ? "released" : $"capped at {cap.Level:0.###}", cap.Reason);
            });
        }
        foreach (var status in _budgets.Status(now))
        {
            _value.WithLabels(status.Name, status.Metric, status.Aggregate).Set(status.Value);
            _limit.WithLabels(status.Name, status.Metric, status.Aggregate).Set(status.Limit);
            _excluded.WithLabels(status.Name).Set(status.StaleHosts.Length);
        }
        foreach (var budget in _budgets.Budgets)
            _caps.WithLabels(budget.Name, budget.Action).Set(_held.Keys.Count(k => k.Budget == budget.Name));
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        _tick?.Cancel();
        _reassert?.Cancel();
        // The next owner reports the budgets; this node's series would only go stale.
        foreach (var budget in _budgets.Budgets)
        {
            _value.RemoveLabelled(budget.Name, budget.Metric, budget.Aggregate.ToString().ToLowerInvariant());
            _limit.RemoveLabelled(budget.Name, budget.Metric, budget.Aggregate.ToString().ToLowerInvariant());
            _caps.RemoveLabelled(budget.Name, budget.Action);
            _excluded.RemoveLabelled(budget.Name);
        }
        base.PostStop();
    }
}
