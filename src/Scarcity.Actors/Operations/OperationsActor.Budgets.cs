using Akka.Actor;
using Scarcity.Actors.Budgets;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Operations;

/// <summary><c>scarcity budgets</c>: the budget owner's state, wherever the singleton runs.</summary>
public sealed partial class OperationsActor
{
    private Task<BudgetsStatus> AskBudgets()
    {
        if (_config.Policy.Budgets.Count == 0) return Task.FromResult(new BudgetsStatus("", []));
        if (_registry is null || !_registry.TryGet<BudgetsHosting.BudgetOwner>(out var owner))
            return Task.FromException<BudgetsStatus>(new InvalidOperationException("this node runs no proxy to the budget owner"));
        return owner.Ask<BudgetsStatus>(GetBudgets.Instance, _askTimeout);
    }
}
