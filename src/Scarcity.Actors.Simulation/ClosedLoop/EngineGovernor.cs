namespace Scarcity.Actors.Simulation.ClosedLoop;

/// <summary>
/// Decides an engine's levels in a closed-loop run. Called once per step, before the step: <paramref name="engine"/> as it
/// stands after the previous step (at <see cref="InferenceEngineModel.Time"/>), and <paramref name="next"/>, the input the
/// step will get (only a perfect-foresight controller may look at it).
/// </summary>
public interface IEngineGovernor
{
    /// <summary>A short name for tables: <c>none</c>, <c>ours</c>, <c>oracle</c>, <c>step-safe</c>.</summary>
    string Name { get; }

    /// <summary>The levels decided now.</summary>
    EngineLevels Decide(InferenceEngineModel engine, ScenarioInput next);

    /// <summary>
    /// The engine's process starts again after an OOM (<see cref="InferenceEngineModel.Restarting"/>) and registers, before
    /// its first step back: the levels the registration reply carries, which it runs at whatever the delay (a process
    /// waits for its reply before it serves) until the decisions taken from then on reach it. Null (the default): the
    /// levels already on their way stay.
    /// </summary>
    EngineLevels? Registered(InferenceEngineModel engine) => null;

    /// <summary>
    /// The engine's process starts for the first time and registers, before its first step: the levels the registration
    /// reply carries, which it runs at until the first decisions reach it. Null (the default): every level at 1.
    /// </summary>
    EngineLevels? Started(InferenceEngineModel engine) => null;
}

/// <summary>No governor: every level at 1.</summary>
public sealed class Ungoverned : IEngineGovernor
{
    /// <summary>The one instance.</summary>
    public static Ungoverned Instance { get; } = new();

    private Ungoverned()
    {
    }

    /// <inheritdoc />
    public string Name => "none";

    /// <inheritdoc />
    public EngineLevels Decide(InferenceEngineModel engine, ScenarioInput next) => EngineLevels.Unrestricted;
}

/// <summary>The perfect-foresight controller of <see cref="Oracle"/>: it sees each step's input in advance.</summary>
public sealed class OracleGovernor : IEngineGovernor
{
    /// <summary>The one instance.</summary>
    public static OracleGovernor Instance { get; } = new();

    private OracleGovernor()
    {
    }

    /// <inheritdoc />
    public string Name => "oracle";

    /// <inheritdoc />
    public EngineLevels Decide(InferenceEngineModel engine, ScenarioInput next) => Oracle.Levels(next);
}

/// <summary>
/// The step-safe bound (<see cref="Oracle.StepSafeLevels"/>): the oracle held to the batch that fits the scenario's largest
/// context, a batch safe at every step. On a scenario whose context steps between levels at random (the steps family of
/// docs/control-quality.md) it is what a governor that cannot see a step coming, and so must keep such a batch to run out
/// of memory never, can expect to serve at best; not a strict upper bound (it admits 95 % of capacity as the oracle does,
/// with no delay, and a governor that keeps a small queue serves more where the context never moves). On a scenario whose
/// context ramps (context-surge) it is pessimistic, since a ramp is seen coming.
/// </summary>
public sealed class StepSafeOracleGovernor : IEngineGovernor
{
    private readonly double _largestContextK;

    /// <summary>The bound for <paramref name="scenario"/>: its largest context is read from every step.</summary>
    public StepSafeOracleGovernor(Scenario scenario)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        _largestContextK = Enumerable.Range(0, scenario.Steps).Select(i => scenario.At(i * InferenceEngineModel.Dt).ContextK).DefaultIfEmpty(0).Max();
    }

    /// <inheritdoc />
    public string Name => "step-safe";

    /// <inheritdoc />
    public EngineLevels Decide(InferenceEngineModel engine, ScenarioInput next) => Oracle.StepSafeLevels(next, _largestContextK);
}
