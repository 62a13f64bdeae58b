using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Profiling;

namespace Scarcity.Actors.Simulation.ClosedLoop;

/// <summary>A level change of the governor's policy, at a simulated time.</summary>
/// <param name="Seconds">Simulated seconds since the start.</param>
/// <param name="Change">The change, as <see cref="SubsystemPolicy.Evaluate"/> returned it.</param>
public sealed record SimulatedDecision(double Seconds, LevelChange Change);

/// <summary>
/// The governor's own policy core on an engine model: every step the engine's observable metrics go through
/// <see cref="HostProfiler.Update"/>, then <see cref="SubsystemPolicy.Evaluate"/> decides, as the profiler and actuator
/// actors do with one sample per interval. The same classes and configuration as the Host; no actor, no persistence.
/// </summary>
/// <remarks>
/// What the governor sees (shared/ENGINE-MODEL.md): the host's <c>vram_util</c> (NVML: the allocator's reserved memory)
/// and <c>cpu_util</c>, always; the engine's own reports as its labelled series (<c>latency_ms{subsystem="..."}</c>,
/// <c>queue_depth</c>, <c>context_k</c>, <c>oom_total</c>), except while it is down after an OOM, when it reports nothing.
/// </remarks>
public sealed class PolicyGovernor : IEngineGovernor
{
    private readonly DateTimeOffset _start;
    private readonly TimeSpan _interval;
    private readonly string _latency, _queue, _context, _ooms;
    private readonly List<SimulatedDecision> _decisions = [];
    private int _starts;

    /// <summary>Creates the governor of <paramref name="subsystem"/> with <paramref name="config"/>'s profiler and policy.</summary>
    /// <param name="config">The governor's configuration, as the Host loads it.</param>
    /// <param name="subsystem">The subsystem name the engine registers under (rules are looked up by it).</param>
    /// <param name="start">The wall-clock time of simulated second 0 (the core takes times as arguments).</param>
    public PolicyGovernor(DRGConfig config, string subsystem = DefaultSubsystem, DateTimeOffset? start = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentException.ThrowIfNullOrWhiteSpace(subsystem);
        _start = start ?? new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        _interval = config.Sensor.Interval;
        Subsystem = subsystem;
        Profiler = new HostProfiler(config.Profiler);
        Policy = new SubsystemPolicy(subsystem, config.Policy.RulesFor(subsystem), config.Policy);
        // The engine registers saying what it reports (ENGINE-MODEL.md, "What the governor sees"), as a governed engine's
        // RegisterSubsystem.Reports does.
        Policy.SetDeclaredReports([MetricNames.LatencyMs, MetricNames.QueueDepth, MetricNames.ContextK, MetricNames.OomTotal]);
        _latency = Own(MetricNames.LatencyMs);
        _queue = Own(MetricNames.QueueDepth);
        _context = Own(MetricNames.ContextK);
        _ooms = Own(MetricNames.OomTotal);
    }

    /// <summary>The subsystem name the simulated engine has unless one is given.</summary>
    public const string DefaultSubsystem = "inference_engine";

    /// <inheritdoc />
    public string Name => "ours";

    /// <summary>The subsystem governed.</summary>
    public string Subsystem { get; }

    /// <summary>The profiler fed with the engine's metrics.</summary>
    public HostProfiler Profiler { get; }

    /// <summary>The policy that decides the levels.</summary>
    public SubsystemPolicy Policy { get; }

    /// <summary>Every level change so far, in order.</summary>
    public IReadOnlyList<SimulatedDecision> Decisions => _decisions;

    /// <inheritdoc />
    /// <remarks>The registration is the actuator's: <see cref="SubsystemPolicy.Registered"/>, and the levels it leaves.</remarks>
    public EngineLevels? Registered(InferenceEngineModel engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        _starts = engine.Starts + 1; // the start the engine counts at its next step
        foreach (var change in Policy.Registered(_start + TimeSpan.FromSeconds(engine.Time)))
            _decisions.Add(new SimulatedDecision(engine.Time, change));
        return Current();
    }

    /// <inheritdoc />
    /// <remarks>The first registration: <see cref="SubsystemPolicy.Registered"/>, and the levels the policy starts with.</remarks>
    public EngineLevels? Started(InferenceEngineModel engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        _starts = engine.Starts;
        foreach (var change in Policy.Registered(_start + TimeSpan.FromSeconds(engine.Time)))
            _decisions.Add(new SimulatedDecision(engine.Time, change));
        return Current();
    }

    /// <inheritdoc />
    public EngineLevels Decide(InferenceEngineModel engine, ScenarioInput next)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var at = _start + TimeSpan.FromSeconds(engine.Time);
        // A process start registers the subsystem (RegisterSubsystem), as the actuator sees it.
        if (engine.Starts > _starts)
        {
            _starts = engine.Starts;
            foreach (var change in Policy.Registered(at))
                _decisions.Add(new SimulatedDecision(engine.Time, change));
        }
        // Before the first step there is nothing to read yet: the levels the policy starts with.
        if (engine.Steps > 0)
        {
            Profiler.Update(MetricNames.VramUtil, engine.VramUtil, at);
            Profiler.Update(MetricNames.CpuUtil, engine.CpuUtil, at);
            if (!engine.Down)
            {
                Profiler.Update(_latency, engine.LatencyMs, at);
                Profiler.Update(_queue, engine.Queue, at);
                Profiler.Update(_context, engine.ContextK, at);
                Profiler.Update(_ooms, engine.OomTotal, at);
            }

            foreach (var change in Policy.Evaluate(Profiler.Snapshot(at, _interval), at))
                _decisions.Add(new SimulatedDecision(engine.Time, change));
        }

        return Current();
    }

    private EngineLevels Current()
    {
        var levels = Policy.Levels;
        return new EngineLevels(Level(ActionNames.ReduceBatch), Level(ActionNames.Throttle), Level(ActionNames.ShedLoad));

        // scale_up (above 1) and custom actions do not act on the model.
        double Level(string action) => levels.TryGetValue(action, out var level) ? Math.Clamp(level, double.Epsilon, 1) : 1;
    }

    private string Own(string metric) => MetricNames.Labelled(metric, MetricNames.SubsystemLabel, Subsystem);
}
