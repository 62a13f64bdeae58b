namespace Scarcity.Actors.Simulation.ClosedLoop;

/// <summary>One step of a closed-loop run: the input, the levels in effect and what the engine did.</summary>
/// <param name="Seconds">Simulated seconds at the start of the step.</param>
/// <param name="Input">The scenario's input.</param>
/// <param name="Levels">The levels the engine applied.</param>
/// <param name="Batch">Batch size.</param>
/// <param name="Reserved">VRAM the allocator held after the step (what NVML reports).</param>
/// <param name="Needed">VRAM the step's batch and context needed.</param>
/// <param name="LatencyMs">Time to first token after the step.</param>
/// <param name="Queue">Requests waiting after the step.</param>
/// <param name="Down">True while the engine was down after an OOM (the OOM step included).</param>
/// <param name="Oom">True when the step ended in an OOM.</param>
public sealed record SimulatedStep(
    double Seconds, ScenarioInput Input, EngineLevels Levels, int Batch, double Reserved, double Needed, double LatencyMs, double Queue, bool Down, bool Oom);

/// <summary>A whole closed-loop run: its scores and every step.</summary>
/// <param name="Scenario">The scenario's name.</param>
/// <param name="Governor">The governor's name (<c>none</c>, <c>ours</c>, <c>oracle</c>).</param>
/// <param name="Delay">Steps between a decision and its effect.</param>
/// <param name="Scores">The engine's scores at the end.</param>
/// <param name="Steps">Every step, in order.</param>
public sealed record SimulatedRun(string Scenario, string Governor, int Delay, EngineScores Scores, IReadOnlyList<SimulatedStep> Steps);

/// <summary>
/// Runs an engine model in closed loop with a governor over a scenario, one step of <see cref="InferenceEngineModel.Dt"/>
/// at a time: the governor reads the engine after the previous step and decides; the levels take effect
/// <c>delay</c> steps later (the engine starts at the levels of its first registration, <see cref="IEngineGovernor.Started"/>, every level at 1 by default), except that a process starting again after an OOM
/// runs at the levels of its registration (<see cref="IEngineGovernor.Registered"/>) until the decisions taken since reach it.
/// </summary>
public static class ClosedLoopRunner
{
    /// <summary>Runs <paramref name="scenario"/> with <paramref name="governor"/>, its decisions taking effect <paramref name="delay"/> steps later.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delay"/> is negative.</exception>
    public static SimulatedRun Run(Scenario scenario, IEngineGovernor governor, int delay = 0)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(governor);
        ArgumentOutOfRangeException.ThrowIfNegative(delay);
        var engine = new InferenceEngineModel();
        var decided = new Queue<EngineLevels>();
        var steps = new List<SimulatedStep>(scenario.Steps);
        // The first start registers too, and the process runs at its reply's levels until the first decisions reach it.
        var first = governor.Started(engine) ?? EngineLevels.Unrestricted;
        for (var d = 0; d < delay; d++) decided.Enqueue(first);
        for (var i = 0; i < scenario.Steps; i++)
        {
            var t = engine.Time;
            var input = scenario.At(t);
            if (engine.Restarting && governor.Registered(engine) is { } reply)
            {
                // A restarted process runs at the levels of its registration reply until the decisions taken from now on
                // reach it: those sent to the process that died are lost with it.
                decided.Clear();
                for (var d = 0; d < delay; d++) decided.Enqueue(reply);
            }
            decided.Enqueue(governor.Decide(engine, input));
            var levels = decided.Dequeue();
            engine.Step(input, levels);
            steps.Add(new SimulatedStep(t, input, levels, engine.Batch, engine.Reserved, engine.Needed, engine.LatencyMs, engine.Queue,
                engine.Down, engine.OomInLastStep));
        }

        return new SimulatedRun(scenario.Name, governor.Name, delay, engine.Scores, steps);
    }
}
