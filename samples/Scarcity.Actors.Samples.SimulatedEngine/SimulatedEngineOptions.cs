namespace Scarcity.Actors.Samples.SimulatedEngine;

/// <summary>Which engine to run, against which governor, and where its lines go.</summary>
public sealed class SimulatedEngineOptions
{
    /// <summary>The scenarios by name; <c>idle</c> registers and applies levels but runs no engine and reports nothing.</summary>
    public static IReadOnlyList<string> ScenarioNames { get; } = ["demo", "context-surge", "traffic-burst", "idle"];

    /// <summary>The subsystem name, unique among the governor's subsystems. <value>Default: inference_engine.</value></summary>
    public string Name { get; set; } = "inference_engine";

    /// <summary>The host the engine runs on; that host's metrics govern it. <value>Default: the machine name.</value></summary>
    public string Host { get; set; } = Environment.MachineName;

    /// <summary>Higher is more important. <value>Default: 10.</value></summary>
    public int Priority { get; set; } = 10;

    /// <summary>Governor node addresses (<c>akka.tcp://scarcity@127.0.0.1:4053</c>). At least one is required. <value>Default: none.</value></summary>
    public IList<string> Contacts { get; set; } = [];

    /// <summary>TLS to the governor (<c>Scarcity:Cluster:Tls</c> on its side); null: plain TCP. <value>Default: null.</value></summary>
    public Scarcity.Actors.Contracts.RemotingTlsOptions? Tls { get; set; }

    /// <summary>One of <see cref="ScenarioNames"/>. <value>Default: demo.</value></summary>
    public string Scenario { get; set; } = "demo";

    /// <summary>No answer from any contact for this long is logged once per outage. <value>Default: 10 s.</value></summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Extra HOCON for the client's actor system, e.g. its log level. <value>Default: null.</value></summary>
    public string? ExtraHocon { get; set; }

    /// <summary>Where the engine's lines go (registration, each level applied, a status line every 5 s). <value>Default: the console.</value></summary>
    public Action<string> WriteLine { get; set; } = Console.WriteLine;

    /// <summary>The scenario named by <see cref="Scenario"/>; null for <c>idle</c>.</summary>
    /// <exception cref="ArgumentException">The name is not one of <see cref="ScenarioNames"/>.</exception>
    public Simulation.Scenario? ResolveScenario() => Scenario switch
    {
        "demo" => Simulation.Scenario.Demo,
        "context-surge" => Simulation.Scenario.ContextSurge,
        "traffic-burst" => Simulation.Scenario.TrafficBurst,
        "idle" => null,
        _ => throw new ArgumentException($"The scenario must be {string.Join(", ", ScenarioNames.SkipLast(1))} or {ScenarioNames[^1]}, was '{Scenario}'."),
    };
}
