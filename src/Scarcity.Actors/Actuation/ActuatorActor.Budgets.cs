using System.Collections.Immutable;
using Akka.Event;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;

namespace Scarcity.Actors.Actuation;

/// <summary>
/// Fleet budgets in the actuator: the caps the budget owner sends (<see cref="ApplyBudgetCap"/>) are journaled as they
/// arrive (replayed on recovery, and kept in the snapshot), and the level sent for an action is the lowest of the
/// policy's level and every budget's cap on it. A cap that lowers (or a release that raises) the level sends a Throttle
/// whose reason names the budget; a policy change that a cap hides is not sent.
/// </summary>
public sealed partial class ActuatorActor
{
    // Budget name -> its cap on this subsystem (level < 1).
    private readonly Dictionary<string, ApplyBudgetCap> _budgetCaps = new(StringComparer.Ordinal);

    private void RecoverBudgetCap(ApplyBudgetCap cap)
    {
        if (cap.Level >= 1) _budgetCaps.Remove(cap.Budget);
        else _budgetCaps[cap.Budget] = cap;
    }

    private void RecoverBudgetCaps(ImmutableArray<ApplyBudgetCap>? caps)
    {
        _budgetCaps.Clear();
        if (caps is { IsDefault: false } held)
            foreach (var cap in held) RecoverBudgetCap(cap);
    }

    /// <summary>A decision a budget's cap took (its reason's signal is <c>budget</c>): it moved no policy level, so a recovery does not restore one from it.</summary>
    private static bool IsBudgetDecision(Decision decision) => decision.Reason.Signal == "budget";

    private ImmutableArray<ApplyBudgetCap> BudgetCapsHeld => [.. _budgetCaps.Values];

    /// <summary>The lowest budget cap on <paramref name="action"/> (1: none), and the budget holding it.</summary>
    private (double Level, ApplyBudgetCap? By) BudgetCapOf(string action)
    {
        ApplyBudgetCap? by = null;
        foreach (var cap in _budgetCaps.Values)
            if (cap.Action == action && (by is null || cap.Level < by.Level)) by = cap;
        return (by?.Level ?? 1.0, by);
    }

    private double EffectiveLevel(string action) => Math.Min(_policy.GetState(action).Level, BudgetCapOf(action).Level);

    /// <summary>The levels shown and sent at registration: the policy's, each lowered by its budget caps.</summary>
    private ImmutableDictionary<string, double> WithBudgetCaps(ImmutableDictionary<string, double> levels)
    {
        if (_budgetCaps.Count == 0) return levels;
        foreach (var cap in _budgetCaps.Values)
            levels = levels.SetItem(cap.Action, Math.Min(levels.TryGetValue(cap.Action, out var level) ? level : 1.0, BudgetCapOf(cap.Action).Level));
        return levels;
    }

    /// <summary>A policy's level changes as sent: each lowered to the caps on its action; one a cap hides entirely is dropped.</summary>
    private IReadOnlyList<LevelChange> ClampToBudgetCaps(IReadOnlyList<LevelChange> changes)
    {
        if (_budgetCaps.Count == 0 || changes.Count == 0) return changes;
        var clamped = new List<LevelChange>(changes.Count);
        foreach (var change in changes)
        {
            var (cap, by) = BudgetCapOf(change.Action);
            if (by is null)
            {
                clamped.Add(change);
                continue;
            }
            var previous = Math.Min(change.PreviousLevel, cap);
            var level = Math.Min(change.Level, cap);
            if (Math.Abs(previous - level) < 1e-9)
            {
                _log.Debug("Subsystem {0}/{1}: the policy's level {2:0.###} is held at {3:0.###} by budget {4}", _subsystem, change.Action, change.Level, cap, by.Budget);
                continue;
            }
            clamped.Add(change with { PreviousLevel = previous, Level = level });
        }
        return clamped;
    }

    private void OnBudgetCap(ApplyBudgetCap cap)
    {
        var known = _budgetCaps.TryGetValue(cap.Budget, out var held) ? held.Level : 1.0;
        if (held is not null && held.Action != cap.Action) known = 1.0; // the budget's action changed: a new cap
        if (Math.Abs(known - Math.Min(1, cap.Level)) < 1e-9) return; // the owner re-asserting what is held: nothing to journal or send
        var before = EffectiveLevel(cap.Action);
        RecoverBudgetCap(cap);
        WriteToJournal(cap);
        var after = EffectiveLevel(cap.Action);
        _log.Info("Subsystem {0}/{1}: budget {2} {3} ({4})", _subsystem, cap.Action, cap.Budget,
            cap.Level >= 1 ? "released its cap" : $"caps it at {cap.Level:0.###}", cap.Reason);
        if (_registration is not null && Math.Abs(before - after) > 1e-9)
        {
            var declared = _registration.Actions.Contains(cap.Action);
            var decision = new Decision(_subsystem, _host, cap.Action, before, after, declared ? ++_sequence : 0, cap.Reason, cap.At,
                ImmutableDictionary<string, double>.Empty.Add(cap.Reason.Metric, cap.Reason.Value), declared,
                declared ? "" : $"not sent: subsystem '{_subsystem}' did not declare action '{cap.Action}'");
            var journaled = WriteToJournal(decision);
            if (_config.PersistBeforeSend && _journal.Error is null) _held.Enqueue((journaled, decision));
            else Act(decision);
        }
        PublishStatus();
    }
}
