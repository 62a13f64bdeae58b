using System.Collections.Immutable;
using System.Globalization;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Policies.Budgets;

/// <summary>What the budget owner knows of one host: its labels and its newest profile.</summary>
/// <param name="Labels">
/// The host's labels (<c>Scarcity:Sensor:Labels</c>); null while they are not known (a host that declares none, or a new
/// owner that has not heard from it yet): such a host is selected only by an empty selector, and a cap on one of its
/// subsystems is kept, never released for it.
/// </param>
/// <param name="Profile">Its newest profile, or null.</param>
/// <param name="ReceivedAt">
/// When the owner received <paramref name="Profile"/>, on the owner's clock; null: the profile's own times are on the
/// owner's clock. Given, a reading's age is the time since receipt plus how old the reading was in its profile, both
/// measured on one clock, so a host whose clock differs from the owner's is neither excluded early nor kept too long.
/// </param>
public sealed record BudgetHost(IReadOnlyDictionary<string, string>? Labels, HostProfile? Profile, DateTimeOffset? ReceivedAt = null);

/// <summary>A subsystem a budget may cap.</summary>
/// <param name="Name">The subsystem.</param>
/// <param name="Host">Its host.</param>
/// <param name="Priority">Higher is more important: capped later, released sooner.</param>
/// <param name="Actions">The actions it declared; a budget caps only a subsystem that declared the budget's action.</param>
public sealed record BudgetSubsystem(string Name, string Host, int Priority, IReadOnlyCollection<string> Actions);

/// <summary>A change of one budget's cap on one subsystem; level 1 is a release.</summary>
/// <param name="Budget">The budget.</param>
/// <param name="Subsystem">The subsystem.</param>
/// <param name="Host">Its host.</param>
/// <param name="Priority">Its priority.</param>
/// <param name="Action">The action capped.</param>
/// <param name="PreviousLevel">The cap before (1: none).</param>
/// <param name="Level">The cap now (1: released).</param>
/// <param name="Reason">Why, naming the budget, its value and its limit.</param>
/// <param name="At">When.</param>
public sealed record BudgetCapChange(string Budget, string Subsystem, string Host, int Priority, string Action, double PreviousLevel, double Level,
    ThrottleReason Reason, DateTimeOffset At);

/// <summary>
/// The evaluation of every fleet budget, without Akka: given the hosts (labels and newest profiles) and the subsystems
/// at one instant, computes each budget's aggregate and the caps to change. Over the limit, it cuts the lowest-priority
/// capable subsystem on the selected hosts by <see cref="FleetBudget.Step"/> (down to <see cref="FleetBudget.MinLevel"/>,
/// then the next one up), at most once per <see cref="FleetBudget.Hold"/>; under the release line for
/// <see cref="FleetBudget.RecoveryHold"/>, it raises the highest-priority capped subsystem first, one step per
/// recovery hold, until every cap is released. Between the two lines the caps hold (hysteresis). Without a value (no
/// selected host with a young reading) nothing changes. A selected host's reading counts until it is older than
/// <see cref="FleetBudget.ExcludeAfter"/>; then it is left out and reported, never counted as zero.
/// </summary>
public sealed class FleetBudgets
{
    private sealed class Cap(string host, int priority, double level, DateTimeOffset since)
    {
        public string Host { get; set; } = host;
        public int Priority { get; set; } = priority;
        public double Level { get; set; } = level;
        public DateTimeOffset Since { get; set; } = since;
    }

    private sealed class State
    {
        public readonly Dictionary<string, Cap> Caps = new(StringComparer.Ordinal);
        public DateTimeOffset? LastChangeAt;
        public DateTimeOffset? UnderSince;
        public BudgetStatus? Status;
    }

    private readonly IReadOnlyList<FleetBudget> _budgets;
    private readonly Dictionary<string, State> _states;

    /// <summary>Evaluates <paramref name="budgets"/> (validated configuration, <c>Scarcity:Policy:Budgets</c>).</summary>
    public FleetBudgets(IReadOnlyList<FleetBudget> budgets)
    {
        _budgets = budgets;
        _states = budgets.ToDictionary(b => b.Name, _ => new State(), StringComparer.Ordinal);
    }

    /// <summary>The budgets evaluated, in configuration order.</summary>
    public IReadOnlyList<FleetBudget> Budgets => _budgets;

    /// <summary>
    /// Takes back a cap known from before (the owner's journal after a failover); level 1 removes it. A cap of a budget no
    /// longer configured is ignored (and returned false) so the caller can release it.
    /// </summary>
    public bool Restore(string budget, string subsystem, string host, int priority, double level, DateTimeOffset at)
    {
        if (!_states.TryGetValue(budget, out var state)) return false;
        if (level >= 1) state.Caps.Remove(subsystem);
        else state.Caps[subsystem] = new Cap(host, priority, level, at);
        state.LastChangeAt = state.LastChangeAt is { } last && last > at ? last : at;
        return true;
    }

    /// <summary>Every cap held now, by budget, then subsystem: (budget, subsystem, action, level).</summary>
    public IEnumerable<(string Budget, string Subsystem, string Action, double Level)> Caps =>
        _budgets.SelectMany(b => _states[b.Name].Caps.Select(c => (b.Name, c.Key, b.Action, c.Value.Level)));

    /// <summary>Each budget's state at the last <see cref="Evaluate"/>, in configuration order (never evaluated: no-data).</summary>
    public ImmutableArray<BudgetStatus> Status(DateTimeOffset now) =>
        [.. _budgets.Select(b => _states[b.Name].Status ?? StatusOf(b, _states[b.Name], double.NaN, "no-data", [], [], now))];

    /// <summary>
    /// Evaluates every budget at <paramref name="now"/> and returns the cap changes to send (in order). A subsystem the
    /// owner does not know (absent from <paramref name="subsystems"/>, e.g. right after a failover) keeps its cap; one
    /// known to have left the budget's hosts, or no longer declaring its action, is released.
    /// </summary>
    public IReadOnlyList<BudgetCapChange> Evaluate(
        DateTimeOffset now, IReadOnlyDictionary<string, BudgetHost> hosts, IReadOnlyDictionary<string, BudgetSubsystem> subsystems)
    {
        var changes = new List<BudgetCapChange>();
        foreach (var budget in _budgets) EvaluateOne(budget, _states[budget.Name], now, hosts, subsystems, changes);
        return changes;
    }

    private static void EvaluateOne(FleetBudget budget, State state, DateTimeOffset now, IReadOnlyDictionary<string, BudgetHost> hosts,
        IReadOnlyDictionary<string, BudgetSubsystem> subsystems, List<BudgetCapChange> changes)
    {
        var counted = new List<string>();
        var excluded = new List<string>();
        var values = new List<double>();
        var selected = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (host, known) in hosts.OrderBy(h => h.Key, StringComparer.Ordinal))
        {
            if (known.Labels is null ? budget.Selector.Count > 0 : !budget.Selects(known.Labels)) continue;
            selected.Add(host);
            if (known.Profile is null || !known.Profile.Metrics.TryGetValue(budget.Metric, out var estimate))
            {
                excluded.Add($"{host} (no {budget.Metric})");
                continue;
            }
            var value = Signal(estimate, budget.Signal);
            var age = known.ReceivedAt is { } received ? now - received + (known.Profile.At - estimate.UpdatedAt) : now - estimate.UpdatedAt;
            if (age > budget.ExcludeAfter || !double.IsFinite(value))
            {
                excluded.Add(string.Create(CultureInfo.InvariantCulture, $"{host} (last reading {age.TotalSeconds:0} s old)"));
                continue;
            }
            counted.Add(host);
            values.Add(value);
        }

        var aggregate = values.Count == 0 ? double.NaN : budget.Aggregate switch
        {
            BudgetAggregate.Sum => values.Sum(),
            BudgetAggregate.Mean => values.Average(),
            _ => values.Max(),
        };

        // Capped subsystems known to have left the budget: their host's labels are known and no longer selected, or they
        // dropped the action. Unknown labels (a new owner not yet told) keep the cap.
        foreach (var (name, cap) in state.Caps.ToList())
        {
            if (!subsystems.TryGetValue(name, out var known)) continue;
            var hostLeft = !selected.Contains(known.Host) && hosts.TryGetValue(known.Host, out var host) && host.Labels is not null;
            if (!hostLeft && known.Actions.Contains(budget.Action)) continue;
            state.Caps.Remove(name);
            changes.Add(new BudgetCapChange(budget.Name, name, cap.Host, cap.Priority, budget.Action, cap.Level, 1,
                Reason(budget, aggregate, $"released: {name} left the budget's hosts"), now));
        }

        string verdict;
        if (values.Count == 0)
        {
            verdict = "no-data";
            state.UnderSince = null;
        }
        else if (aggregate > budget.Limit)
        {
            verdict = "over";
            state.UnderSince = null;
            if (state.LastChangeAt is not { } last || now - last >= budget.Hold) Cut(budget, state, now, aggregate, selected, subsystems, changes);
        }
        else if (aggregate < budget.ReleaseLine && state.Caps.Count > 0)
        {
            verdict = "holding";
            state.UnderSince ??= now;
            if (now - state.UnderSince.Value >= budget.RecoveryHold && (state.LastChangeAt is not { } last || now - last >= budget.RecoveryHold))
                Release(budget, state, now, aggregate, changes);
        }
        else
        {
            verdict = state.Caps.Count > 0 ? "holding" : "ok";
            state.UnderSince = null;
        }
        state.Status = StatusOf(budget, state, aggregate, state.Caps.Count == 0 && verdict == "holding" ? "ok" : verdict, counted, excluded, now);
    }

    private static void Cut(FleetBudget budget, State state, DateTimeOffset now, double aggregate, HashSet<string> selected,
        IReadOnlyDictionary<string, BudgetSubsystem> subsystems, List<BudgetCapChange> changes)
    {
        // Lowest priority first, name breaking ties so every owner picks the same one.
        var target = subsystems.Values
            .Where(s => selected.Contains(s.Host) && s.Actions.Contains(budget.Action))
            .OrderBy(s => s.Priority).ThenBy(s => s.Name, StringComparer.Ordinal)
            .FirstOrDefault(s => !state.Caps.TryGetValue(s.Name, out var cap) || cap.Level > budget.MinLevel + 1e-9);
        if (target is null) return; // every capable subsystem is at the floor: nothing more to cut
        var previous = state.Caps.TryGetValue(target.Name, out var held) ? held.Level : 1.0;
        var level = Math.Max(budget.MinLevel, previous * budget.Step);
        state.Caps[target.Name] = new Cap(target.Host, target.Priority, level, now);
        state.LastChangeAt = now;
        changes.Add(new BudgetCapChange(budget.Name, target.Name, target.Host, target.Priority, budget.Action, previous, level,
            Reason(budget, aggregate, "over the limit"), now));
    }

    private static void Release(FleetBudget budget, State state, DateTimeOffset now, double aggregate, List<BudgetCapChange> changes)
    {
        // Highest priority first: the opposite of the cuts.
        var (name, cap) = state.Caps.OrderByDescending(c => c.Value.Priority).ThenByDescending(c => c.Key, StringComparer.Ordinal).First();
        var previous = cap.Level;
        var level = previous / budget.Step;
        if (level >= 1 - 1e-9)
        {
            level = 1;
            state.Caps.Remove(name);
        }
        else
        {
            cap.Level = level;
            cap.Since = now;
        }
        state.LastChangeAt = now;
        changes.Add(new BudgetCapChange(budget.Name, name, cap.Host, cap.Priority, budget.Action, previous, level,
            Reason(budget, aggregate, "under the release line"), now));
    }

    private static ThrottleReason Reason(FleetBudget budget, double aggregate, string why) =>
        new($"{budget.Display} ({why})", budget.Metric, "budget", aggregate, double.NaN, budget.Limit);

    private static BudgetStatus StatusOf(FleetBudget budget, State state, double value, string verdict, List<string> counted, List<string> excluded,
        DateTimeOffset now) =>
        new(budget.Name, budget.Metric, budget.Aggregate.ToString().ToLowerInvariant(), budget.SelectorText, value, budget.Limit, budget.EffectiveUnit,
            verdict, [.. counted], [.. excluded],
            [.. state.Caps.OrderBy(c => c.Value.Priority).ThenBy(c => c.Key, StringComparer.Ordinal)
                .Select(c => new BudgetCapView(c.Key, c.Value.Host, c.Value.Priority, budget.Action, c.Value.Level, c.Value.Since))],
            now);

    private static double Signal(MetricEstimate estimate, SignalKind signal) => signal switch
    {
        SignalKind.Raw => estimate.Raw,
        SignalKind.Ema => estimate.Ema,
        SignalKind.Estimate => estimate.Estimate,
        _ => estimate.Forecast,
    };
}
