namespace Scarcity.Actors.Simulation;

/// <summary>
/// The reference model of a governed GPU inference engine (shared/ENGINE-MODEL.md), in discrete steps of
/// <see cref="Dt"/>. One implementation for the host's demo, the samples and the specs, so that results compare.
/// Deterministic and single-threaded.
/// </summary>
public sealed class InferenceEngineModel
{
    /// <summary>Step length, seconds.</summary>
    public const double Dt = 0.25;
    /// <summary><c>B_MAX</c>: batch size at level 1.</summary>
    public const int BMax = 64;
    /// <summary><c>WEIGHTS</c>: fraction of VRAM held by the model weights.</summary>
    public const double Weights = 0.40;
    /// <summary><c>KV</c>: VRAM fraction per request in the batch per 1k tokens of context.</summary>
    public const double Kv = 0.006;
    /// <summary><c>TOKENS_OUT</c>: decode iterations per request.</summary>
    public const int TokensOut = 100;
    /// <summary><c>ITER_BASE</c>: fixed cost of one decode iteration, seconds.</summary>
    public const double IterBase = 0.015;
    /// <summary><c>ITER_SLOT</c>: extra iteration cost per batch slot per 1k tokens, seconds.</summary>
    public const double IterSlot = 0.0004;
    /// <summary><c>PREFILL</c>: prefill time per 1k tokens (time to first token when idle), seconds.</summary>
    public const double Prefill = 0.05;
    /// <summary><c>RESTART</c>: seconds an engine is down after an OOM.</summary>
    public const double Restart = 20;
    /// <summary><c>RELEASE</c>: reserved-but-unused VRAM the allocator returns per second.</summary>
    public const double Release = 0.10;
    /// <summary><c>LOW_SHARE</c>: share of arrivals that is low priority (sheddable).</summary>
    public const double LowShare = 0.5;
    /// <summary><c>SLO</c>: time-to-first-token objective, milliseconds.</summary>
    public const double SloMs = 500;
    /// <summary>CPU utilisation the engine reports, constant.</summary>
    public const double EngineCpuUtil = 0.30;

    private long _steps;
    private double _downUntil = double.NegativeInfinity;
    private EngineScores _scores;

    /// <summary>Simulated seconds so far (the start of the next step).</summary>
    public double Time => _steps * Dt;

    /// <summary>Steps taken.</summary>
    public long Steps => _steps;

    /// <summary>Batch size in the last step.</summary>
    public int Batch { get; private set; } = BMax;

    /// <summary>Requests waiting.</summary>
    public double Queue { get; private set; }

    /// <summary>True while the engine is down after an OOM (the OOM step included).</summary>
    public bool Down { get; private set; }

    /// <summary>True when the engine is down and its <see cref="Restart"/> is over: its process starts again in the next step.</summary>
    public bool Restarting => Down && Time >= _downUntil;

    /// <summary>True when the last step ended in an OOM.</summary>
    public bool OomInLastStep { get; private set; }

    /// <summary>VRAM the allocator holds, as a fraction of the device.</summary>
    public double Reserved { get; private set; } = Weights;

    /// <summary>What NVML reports: <c>min(1, reserved)</c>.</summary>
    public double VramUtil => Math.Min(1, Reserved);

    /// <summary>Time to first token after the last step, ms. While down it includes the time left until the engine is back.</summary>
    public double LatencyMs { get; private set; }

    /// <summary>The mean context length L of the last step, thousands of tokens (what the engine reports as <c>context_k</c>).</summary>
    public double ContextK { get; private set; }

    /// <summary>VRAM the last step needed (<see cref="Need"/> of its batch and context), whether or not it fitted.</summary>
    public double Needed { get; private set; } = Weights;

    /// <summary>OOMs so far (what the engine reports as <c>oom_total</c>).</summary>
    public int OomTotal => _scores.Ooms;

    /// <summary>CPU utilisation, constant <see cref="EngineCpuUtil"/>.</summary>
    public double CpuUtil => EngineCpuUtil;

    /// <summary>
    /// How often the engine's process has started (and registered with the governor): 1 from the start, one more each
    /// time it comes back after an OOM's <see cref="Restart"/>, counted at the start of its first step back.
    /// </summary>
    public int Starts { get; private set; } = 1;

    /// <summary>Cumulative scores.</summary>
    public EngineScores Scores => _scores;

    /// <summary>VRAM the engine needs for a batch at a context length: <c>WEIGHTS + KV × batch × L</c>.</summary>
    public static double Need(int batch, double contextK) => Weights + Kv * batch * contextK;

    /// <summary>Batch size at a <c>reduce_batch</c> level: <c>max(1, floor(B_MAX × level))</c>.</summary>
    public static int BatchAt(double reduceBatch) => Math.Max(1, (int)Math.Floor(BMax * reduceBatch));

    /// <summary>Throughput in requests per second: <c>batch / (TOKENS_OUT × (ITER_BASE + ITER_SLOT × batch × L))</c>.</summary>
    public static double Throughput(int batch, double contextK) =>
        batch / (TokensOut * (IterBase + IterSlot * batch * contextK));

    /// <summary>Advances one step of <see cref="Dt"/> with a scenario's input.</summary>
    public void Step(ScenarioInput input, EngineLevels levels) => Step(input.Arrivals, input.ContextK, levels);

    /// <summary>Advances one step of <see cref="Dt"/>.</summary>
    /// <param name="arrivals">Requests per second.</param>
    /// <param name="contextK">Mean context length L, thousands of tokens.</param>
    /// <param name="levels">The governor's levels.</param>
    /// <exception cref="ArgumentOutOfRangeException">An input is negative or not finite, or a level is outside (0, 1].</exception>
    public void Step(double arrivals, double contextK, EngineLevels levels)
    {
        if (!(arrivals >= 0 && double.IsFinite(arrivals))) throw new ArgumentOutOfRangeException(nameof(arrivals), arrivals, "must be finite and not negative");
        if (!(contextK >= 0 && double.IsFinite(contextK))) throw new ArgumentOutOfRangeException(nameof(contextK), contextK, "must be finite and not negative");
        levels.EnsureValid();

        var t = Time;
        var batch = BatchAt(levels.ReduceBatch);
        Batch = batch;
        ContextK = contextK;
        Needed = Need(batch, contextK);
        OomInLastStep = false;

        var admitted = arrivals * levels.Throttle * (1 - LowShare * (1 - levels.ShedLoad)) * Dt;
        var rejected = arrivals * Dt - admitted;
        Queue += admitted;

        var mu = Throughput(batch, contextK);
        var lost = 0.0;
        var good = 0.0;
        var overSlo = 0.0;
        var oom = 0;

        if (Down && t >= _downUntil) Starts++;
        if (t < _downUntil)
        {
            Down = true;
            Reserved = Weights;
            overSlo = Dt;
            LatencyMs = 1000 * (_downUntil - t + Queue / mu + Prefill * contextK);
        }
        else
        {
            var need = Need(batch, contextK);
            if (need > 1.0)
            {
                // OOM: the batch in flight is lost; the engine restarts with only the weights loaded.
                lost = Math.Min(Queue, batch);
                Queue -= lost;
                oom = 1;
                OomInLastStep = true;
                _downUntil = t + Restart;
                Down = true;
                Reserved = Weights;
                overSlo = Dt;
                LatencyMs = 1000 * (Restart + Queue / mu + Prefill * contextK);
            }
            else
            {
                Down = false;
                // The allocator grabs at once but returns slowly.
                Reserved = need > Reserved ? need : Math.Max(need, Reserved - Release * Dt);
                var served = Math.Min(Queue, mu * Dt);
                Queue -= served;
                LatencyMs = 1000 * (Queue / mu + Prefill * contextK);
                if (LatencyMs <= SloMs) good = served;
                else overSlo = Dt;
            }
        }

        _scores = new EngineScores(
            _scores.Ooms + oom, _scores.RequestsLost + lost, _scores.SecondsOverSlo + overSlo,
            _scores.GoodRequests + good, _scores.RequestsRejected + rejected);
        _steps++;
    }
}
