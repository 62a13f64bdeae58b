namespace Scarcity.Actors.Simulation;

/// <summary>
/// The perfect-foresight controller of shared/ENGINE-MODEL.md, the reference for "good requests": knowing each step's
/// context length and arrivals in advance, it runs the largest batch that fits the card and admits 95 % of capacity.
/// </summary>
public static class Oracle
{
    /// <summary>Share of the engine's throughput the oracle admits.</summary>
    public const double AdmissionShare = 0.95;

    /// <summary>The largest batch that fits the card at <paramref name="contextK"/>: <c>max(1, min(B_MAX, floor((1 − WEIGHTS) / (KV × L))))</c>.</summary>
    public static int Batch(double contextK)
    {
        var fits = Math.Floor((1.0 - InferenceEngineModel.Weights) / (InferenceEngineModel.Kv * contextK));
        // L = 0 makes the quotient infinite: the whole batch fits.
        return (int)Math.Max(1, Math.Min(InferenceEngineModel.BMax, fits));
    }

    /// <summary>
    /// The oracle's levels for a step with <paramref name="input"/>: <c>reduce_batch = (batch + 0.5) / B_MAX</c>,
    /// <c>throttle = min(1, 0.95 × mu(batch, L) / arrivals)</c> (1 with no arrivals), <c>shed_load = 1</c>.
    /// </summary>
    public static EngineLevels Levels(ScenarioInput input) => LevelsAt(Batch(input.ContextK), input);

    /// <summary>
    /// The step-safe bound's levels for a step with <paramref name="input"/>: the oracle's, with the batch no larger than
    /// what fits <paramref name="largestContextK"/> (the largest context of the whole scenario) as well. A governor sees a
    /// step of the context only after it has come; where any step may reach the largest context, a batch that does not fit
    /// it runs out of memory when one does: a governor without foresight of the next step that never runs out of memory
    /// keeps such a batch (see <see cref="ClosedLoop.StepSafeOracleGovernor"/> for what the bound does and does not bound).
    /// </summary>
    public static EngineLevels StepSafeLevels(ScenarioInput input, double largestContextK) =>
        LevelsAt(Batch(Math.Max(input.ContextK, largestContextK)), input); // Batch falls as the context grows

    /// <summary>The levels that run <paramref name="batch"/> and admit 95 % of its throughput at <paramref name="input"/>'s context.</summary>
    private static EngineLevels LevelsAt(int batch, ScenarioInput input)
    {
        var throttle = input.Arrivals > 0
            ? Math.Min(1, AdmissionShare * InferenceEngineModel.Throughput(batch, input.ContextK) / input.Arrivals)
            : 1;
        return new EngineLevels(Math.Min(1, (batch + 0.5) / InferenceEngineModel.BMax), throttle, 1);
    }
}
