namespace Scarcity.Actors.Simulation;

/// <summary>What a scenario feeds an engine at one instant.</summary>
/// <param name="Arrivals">Requests per second.</param>
/// <param name="ContextK">Mean context length L, thousands of tokens.</param>
public readonly record struct ScenarioInput(double Arrivals, double ContextK);

/// <summary>A load pattern over time for <see cref="InferenceEngineModel"/>; the public ones are in shared/ENGINE-MODEL.md.</summary>
public sealed class Scenario
{
    private readonly Func<double, ScenarioInput> _at;

    /// <summary>Creates a scenario.</summary>
    /// <param name="name">Its name, e.g. <c>context-surge</c>.</param>
    /// <param name="duration">How long it runs.</param>
    /// <param name="at">The input at a time in seconds since the start.</param>
    public Scenario(string name, TimeSpan duration, Func<double, ScenarioInput> at)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(at);
        if (duration <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(duration), duration, "must be positive");
        Name = name;
        Duration = duration;
        _at = at;
    }

    /// <summary>
    /// context-surge (360 s): 10 requests/s throughout; L = 1.0 until 30 s, then rising by 0.02 per second to 2.2,
    /// held until 240 s, then back to 1.0. With no governor: 10 OOMs.
    /// </summary>
    public static Scenario ContextSurge { get; } = new("context-surge", TimeSpan.FromSeconds(360), t =>
        new ScenarioInput(10, t < 30 || t >= 240 ? 1.0 : Math.Min(2.2, 1.0 + 0.02 * (t - 30))));

    /// <summary>traffic-burst (300 s): L = 1.2; 8 requests/s, 25 requests/s from 60 s to 150 s.</summary>
    public static Scenario TrafficBurst { get; } = new("traffic-burst", TimeSpan.FromSeconds(300), t =>
        new ScenarioInput(t is >= 60 and < 150 ? 25 : 8, 1.2));

    /// <summary>
    /// demo (60 s), for the host's <c>--demo</c>: 6 requests/s; L = 0.8 until 5 s, rising by 0.05 per second to 2.0
    /// (reached at 29 s), held until 40 s, then back to 0.8. Ungoverned, VRAM climbs from 0.71 and the engine runs out of
    /// memory at about 20 s; halving the batch keeps it below 0.79, and the batch can be restored after 40 s.
    /// </summary>
    public static Scenario Demo { get; } = new("demo", TimeSpan.FromSeconds(60), t =>
        new ScenarioInput(6, t < 5 || t >= 40 ? 0.8 : Math.Min(2.0, 0.8 + 0.05 * (t - 5))));

    /// <summary>The two public scenarios that score control quality.</summary>
    public static IReadOnlyList<Scenario> Public { get; } = [ContextSurge, TrafficBurst];

    /// <summary>Every built-in scenario, by name: the public ones and the demo's.</summary>
    public static IReadOnlyList<Scenario> BuiltIn { get; } = [ContextSurge, TrafficBurst, Demo];

    /// <summary>The built-in scenario named <paramref name="name"/> (case-insensitive), or null.</summary>
    public static Scenario? Named(string name) =>
        BuiltIn.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The scenario's name.</summary>
    public string Name { get; }

    /// <summary>How long it runs.</summary>
    public TimeSpan Duration { get; }

    /// <summary>Number of engine steps in the scenario.</summary>
    public int Steps => (int)Math.Round(Duration.TotalSeconds / InferenceEngineModel.Dt);

    /// <summary>The input at <paramref name="seconds"/> since the start.</summary>
    public ScenarioInput At(double seconds) => _at(seconds);

    /// <summary>
    /// Runs the whole scenario on a fresh engine. Before each step <paramref name="governor"/> (none: every level at 1)
    /// sees the engine as it stands and returns the levels for the step.
    /// </summary>
    public InferenceEngineModel Run(Func<InferenceEngineModel, EngineLevels>? governor = null)
    {
        var engine = new InferenceEngineModel();
        for (var i = 0; i < Steps; i++)
        {
            var levels = governor?.Invoke(engine) ?? EngineLevels.Unrestricted;
            engine.Step(At(engine.Time), levels);
        }

        return engine;
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}
