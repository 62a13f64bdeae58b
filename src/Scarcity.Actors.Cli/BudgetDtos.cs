using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Cli;

/// <summary>One cap of a budget in <c>budgets</c>.</summary>
public sealed record BudgetCapDto(string Subsystem, string Host, int Priority, string Action, double Level, DateTimeOffset Since);

/// <summary>
/// One fleet budget in <c>budgets</c>: <see cref="Value"/> is the aggregate (null when no selected host has a young
/// reading), <see cref="State"/> ok, over, holding (under the limit, its caps waiting for the release hold) or no-data;
/// <see cref="ExcludedHosts"/> the selected hosts left out of the value, each with why.
/// </summary>
public sealed record BudgetDto(
    string Name, string Metric, string Aggregate, string Selector, double? Value, double Limit, string Unit, string State,
    IReadOnlyList<string> Hosts, IReadOnlyList<string> ExcludedHosts, IReadOnlyList<BudgetCapDto> Caps, DateTimeOffset EvaluatedAt);

/// <summary><c>budgets</c>: the owner node's address (empty when no budget is configured) and every budget.</summary>
public sealed record BudgetsDto(string Owner, IReadOnlyList<BudgetDto> Budgets);

public static partial class Dto
{
    /// <summary>The <c>budgets</c> shape of the owner's answer.</summary>
    public static BudgetsDto Budgets(BudgetsStatus s) => new(s.Owner, [.. s.Budgets.Select(b => new BudgetDto(
        b.Name, b.Metric, b.Aggregate, b.Selector, double.IsFinite(b.Value) ? b.Value : null, b.Limit, b.Unit, b.State, [.. b.Hosts], [.. b.StaleHosts],
        [.. b.Caps.Select(c => new BudgetCapDto(c.Subsystem, c.Host, c.Priority, c.Action, c.Level, c.Since))], b.EvaluatedAt))]);
}
