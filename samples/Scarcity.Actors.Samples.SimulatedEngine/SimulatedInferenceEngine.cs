using System.Diagnostics;
using System.Globalization;
using Scarcity.Actors.Client;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Simulation;

namespace Scarcity.Actors.Samples.SimulatedEngine;

/// <summary>
/// A simulated GPU inference engine governed through <see cref="GovernedSubsystem"/>: the one engine model
/// (<see cref="InferenceEngineModel"/>) stepped every 0.25 s through a scenario with the levels the governor sent,
/// reporting what a real engine knows of itself (shared/ENGINE-MODEL.md): <c>latency_ms</c>, <c>queue_depth</c>,
/// <c>context_k</c> (the mean context length it serves) and <c>oom_total</c>, and <c>vram_util</c>. After an OOM it behaves
/// as a restarting process: its client is stopped (the registration drops, nothing is reported) and, once the engine is
/// back after <see cref="InferenceEngineModel.Restart"/> s, a new client registers again. Real engines get vram_util from NVML on their host
/// (the governor's own sensor); a simulated GPU lives only in this process, so the engine reports it as an app metric
/// (<c>vram_util{subsystem="name"}</c>, which rules on vram_util read first). Its VRAM is a number, not memory: it takes
/// nothing from the machine.
/// </summary>
/// <remarks>
/// Lines written (the client specs parse them): <c>registered ...</c>, <c>applied seq=N action=A level=L ts=T reason="..."</c>
/// (plus <c>batch=B</c> for reduce_batch), <c>level action=A level=L source=registration</c>, <c>declined ...</c>,
/// <c>rejected: ...</c>, <c>oom ...</c> and <c>restarted ...</c> around an OOM, and <c>t=...</c> every 5 s.
/// </remarks>
public sealed class SimulatedInferenceEngine : IAsyncDisposable
{
    private static readonly string[] Actions = [ActionNames.ReduceBatch, ActionNames.Throttle, ActionNames.ShedLoad];

    private readonly SimulatedEngineOptions _options;
    private readonly Scenario? _scenario;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _run;
    private readonly Func<GovernedSubsystem> _connect;
    private volatile GovernedSubsystem _governed;
    // The crashed client's shutdown while the engine restarts after an OOM; null while the engine is up.
    private Task? _dropping;

    private SimulatedInferenceEngine(SimulatedEngineOptions options, Scenario? scenario, Func<GovernedSubsystem> connect)
    {
        _options = options;
        _scenario = scenario;
        _connect = connect;
        _governed = connect();
        _run = Task.Run(() => RunAsync(_stop.Token));
    }

    /// <summary>The engine's connection to the governor; a new one after each restart that follows an OOM.</summary>
    public GovernedSubsystem Governed => _governed;

    /// <summary>Completes when the engine stops (after <see cref="DisposeAsync"/>); faults if its loop failed.</summary>
    public Task Completion => _run;

    /// <summary>Starts the client and the engine's loop; does not wait for the governor (the client registers when it can).</summary>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public static SimulatedInferenceEngine Start(SimulatedEngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var scenario = options.ResolveScenario();
        var write = options.WriteLine;
        var client = new GovernedSubsystemOptions
        {
            Name = options.Name, Host = options.Host, Priority = options.Priority, Contacts = options.Contacts,
            ConnectTimeout = options.ConnectTimeout, ExtraHocon = options.ExtraHocon, Tls = options.Tls,
        };
        foreach (var action in Actions)
        {
            client.On(action, (level, throttle) =>
            {
                if (!(level > 0 && level <= 1))
                {
                    write($"declined seq={throttle?.Sequence ?? 0} action={action} level={level.ToString(CultureInfo.InvariantCulture)}: engine levels are in (0, 1]");
                    return false;
                }
                var batch = action == ActionNames.ReduceBatch ? $" batch={InferenceEngineModel.BatchAt(level)}" : "";
                write(throttle is null
                    ? $"level action={action} level={Format(level)} source=registration"
                    : $"applied seq={throttle.Sequence} action={action} level={Format(level)} ts={Stopwatch.GetTimestamp()} reason=\"{throttle.Reason}\"{batch}");
                return true;
            });
        }

        write($"engine {options.Name} on {options.Host}, scenario {options.Scenario}, contacts {string.Join(", ", options.Contacts)}");
        return new SimulatedInferenceEngine(options, scenario, Connect);

        GovernedSubsystem Connect()
        {
            var governed = GovernedSubsystem.Start(client);
            governed.Registered += (_, r) => write($"registered name={options.Name} host={options.Host} last={r.LastSequence} levels={Levels(governed)}");
            governed.Rejected += (_, reason) => write($"rejected: registration of '{options.Name}' refused by the governor: {reason}");
            return governed;
        }
    }

    private async Task RunAsync(CancellationToken stop)
    {
        var model = new InferenceEngineModel();
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(InferenceEngineModel.Dt));
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                if (_scenario is null)
                {
                    model.Step(0, 0, EngineLevels.Unrestricted); // only the clock moves
                    if (model.Steps % 20 == 0) _options.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"t={model.Time:0}s registered={Governed.IsRegistered} levels={Levels(Governed)}"));
                    continue;
                }
                var levels = new EngineLevels(
                    Governed.LevelOf(ActionNames.ReduceBatch), Governed.LevelOf(ActionNames.Throttle), Governed.LevelOf(ActionNames.ShedLoad));
                model.Step(_scenario.At(model.Time % _scenario.Duration.TotalSeconds), levels);
                if (model.OomInLastStep)
                {
                    // A crashed process reports nothing and holds no registration until it has restarted.
                    _options.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"oom t={model.Time:0.##}s batch={model.Batch} ooms={model.OomTotal}: restarting for {InferenceEngineModel.Restart:0}s, registration dropped"));
                    var crashed = Governed;
                    _dropping = crashed.DisposeAsync().AsTask();
                }
                if (model.Down) continue;
                if (_dropping is not null)
                {
                    await _dropping.ConfigureAwait(false);
                    _dropping = null;
                    _governed = _connect();
                    _options.WriteLine(string.Create(CultureInfo.InvariantCulture, $"restarted t={model.Time:0.##}s: registering again"));
                }
                Governed.Report(new Dictionary<string, double>
                {
                    [MetricNames.LatencyMs] = model.LatencyMs,
                    [MetricNames.QueueDepth] = model.Queue,
                    [MetricNames.ContextK] = model.ContextK,
                    [MetricNames.OomTotal] = model.OomTotal,
                    [MetricNames.VramUtil] = model.VramUtil,
                });
                if (model.Steps % 20 == 0)
                    _options.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"t={model.Time:0}s batch={model.Batch} vram={model.VramUtil:0.###} latency={model.LatencyMs:0}ms queue={model.Queue:0.#} ooms={model.Scores.Ooms} levels={Levels(Governed)}"));
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>Stops the loop, then the client (the governor sees the subsystem go).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _run.ConfigureAwait(false);
        }
        finally
        {
            // Stopped while down after an OOM: that client is already going.
            if (_dropping is not null) await _dropping.ConfigureAwait(false);
            else await Governed.DisposeAsync().ConfigureAwait(false);
            _stop.Dispose();
        }
    }

    private static string Levels(GovernedSubsystem governed) =>
        string.Join(",", Actions.Select(a => $"{a}={Format(governed.LevelOf(a))}"));

    private static string Format(double level) => level.ToString("0.####", CultureInfo.InvariantCulture);
}
