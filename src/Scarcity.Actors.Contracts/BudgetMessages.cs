using System.Collections.Immutable;

namespace Scarcity.Actors.Contracts;

/// <summary>Pub-sub topics of fleet budgets.</summary>
public static class BudgetTopics
{
    /// <summary>
    /// Each host's labels (<see cref="HostLabels"/>), published by its sensor when it starts and then every
    /// <c>Scarcity:Sensor:LabelsInterval</c>: what the budget owner selects hosts by.
    /// </summary>
    public const string HostLabels = "drg.host.labels";
}

/// <summary>
/// The labels a host declares in its sensor configuration (<c>Scarcity:Sensor:Labels</c>, e.g. <c>rack=r12</c>); sent
/// apart from the samples (once at start, then every labels interval) so a sample stays as small as before.
/// </summary>
/// <param name="Host">The host.</param>
/// <param name="Labels">Label key to value, e.g. <c>rack</c> -&gt; <c>r12</c>; empty when the host declares none.</param>
/// <param name="At">When the sensor sent them.</param>
public sealed record HostLabels(string Host, ImmutableDictionary<string, string> Labels, DateTimeOffset At) : IScarcityMessage, IWithHost;

/// <summary>
/// A fleet budget's cap on one action of one subsystem, sent by the budget owner to the subsystem's actuator entity and
/// journaled there (persisted event, manifest <c>apply-budget-cap.v1</c>). The actuator applies the lowest of its own
/// policy level and every budget's cap on that action, and names the budget in the Throttle's reason. A level of 1
/// releases the cap.
/// </summary>
/// <param name="Subsystem">The subsystem capped.</param>
/// <param name="Budget">The budget's name (<c>Scarcity:Policy:Budgets:N:Name</c>).</param>
/// <param name="Action">The action capped, e.g. <c>throttle</c>.</param>
/// <param name="Level">The cap, in (0, 1]; 1: released.</param>
/// <param name="Reason">Why: the budget's rule, its aggregate value and its limit.</param>
/// <param name="At">When the owner decided.</param>
/// <param name="Host">The subsystem's host when the owner decided (for the owner's status after a failover).</param>
/// <param name="Priority">The subsystem's priority when the owner decided (the order of release after a failover).</param>
public sealed record ApplyBudgetCap(string Subsystem, string Budget, string Action, double Level, ThrottleReason Reason, DateTimeOffset At,
    string Host = "", int Priority = 0)
    : IScarcityMessage, IWithSubsystem;

/// <summary>Asks for every fleet budget's state (the budget owner answers, wherever it runs); answered by <see cref="BudgetsStatus"/> or <see cref="OperationFailed"/>.</summary>
public sealed record GetBudgets : IScarcityMessage
{
    /// <summary>The one instance.</summary>
    public static readonly GetBudgets Instance = new();
}

/// <summary>One cap a budget holds.</summary>
/// <param name="Subsystem">The subsystem capped.</param>
/// <param name="Host">Its host.</param>
/// <param name="Priority">Its priority (lowest capped first).</param>
/// <param name="Action">The action capped.</param>
/// <param name="Level">The cap, in (0, 1).</param>
/// <param name="Since">When the cap was last changed.</param>
public sealed record BudgetCapView(string Subsystem, string Host, int Priority, string Action, double Level, DateTimeOffset Since) : IScarcityMessage;

/// <summary>One fleet budget as its owner evaluates it.</summary>
/// <param name="Name">The budget's name.</param>
/// <param name="Metric">The series aggregated (e.g. <c>gpu_power_w</c>).</param>
/// <param name="Aggregate">sum, mean or max.</param>
/// <param name="Selector">The host selector, <c>key=value</c> pairs joined by commas (every one must match).</param>
/// <param name="Value">The aggregate at the last evaluation; NaN when no selected host has a value.</param>
/// <param name="Limit">The limit, in the metric's unit.</param>
/// <param name="Unit">The unit shown (<c>W</c>).</param>
/// <param name="State">ok, over, holding (under the limit, waiting to release) or no-data.</param>
/// <param name="Hosts">Selected hosts counted in the value.</param>
/// <param name="StaleHosts">Selected hosts whose value is older than the budget's exclusion age: left out of the value, each with why.</param>
/// <param name="Caps">The caps it holds, lowest priority first.</param>
/// <param name="EvaluatedAt">When it was last evaluated.</param>
public sealed record BudgetStatus(
    string Name, string Metric, string Aggregate, string Selector, double Value, double Limit, string Unit, string State,
    ImmutableArray<string> Hosts, ImmutableArray<string> StaleHosts, ImmutableArray<BudgetCapView> Caps, DateTimeOffset EvaluatedAt)
    : IScarcityMessage;

/// <summary>The answer to <see cref="GetBudgets"/>.</summary>
/// <param name="Owner">The address of the node that owns the budgets (the singleton's node).</param>
/// <param name="Budgets">Every configured budget, in configuration order.</param>
public sealed record BudgetsStatus(string Owner, ImmutableArray<BudgetStatus> Budgets) : IScarcityMessage;
