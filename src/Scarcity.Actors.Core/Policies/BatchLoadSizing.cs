using System.Globalization;

namespace Scarcity.Actors.Policies;

/// <summary>
/// The <c>reduce_batch</c> level the load needs, as distinct from the level that fits: a batch larger than the arrivals
/// need serves no more good requests, but its KV cache is what a sudden step up of the context length runs out of memory
/// with. The VRAM a smaller batch leaves free is headroom against such a step, at no cost while the load is below capacity.
/// Pure and deterministic: readings come in with their times. Not thread-safe (one policy owns it).
/// </summary>
/// <remarks>
/// <para>The engine's own reports say whether the batch keeps up: with no queue (<c>queue_depth</c> under
/// <see cref="IdleQueue"/>) it serves everything admitted; with one, Little's law gives its service rate
/// (<c>queue / (latency - idle latency)</c>, the idle latency learnt per 1k tokens of context, as the engine's prefill
/// grows with it) and the queue's growth the admitted rate.</para>
/// <para>It probes down while the engine idles (<see cref="ProbeFactor"/> after <see cref="ProbeInterval"/> without a
/// queue) and raises at once when a queue forms, by the ratio of the admitted rate to the service rate with
/// <see cref="Margin"/>, at least <see cref="Bump"/>. While admission turns requests away (<c>throttle</c> or
/// <c>shed_load</c> under 1) the load needs everything that fits: <see cref="Level"/> is 1.</para>
/// </remarks>
public sealed class BatchLoadSizing
{
    /// <summary>Requests waiting below which the engine counts as idle (it serves all it is given).</summary>
    public const double IdleQueue = 0.05;

    /// <summary>Requests waiting from which the batch no longer keeps up.</summary>
    public const double BusyQueue = 0.5;

    /// <summary>How long the engine idles at one level before the level the load needs is probed lower.</summary>
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(3);

    /// <summary>The factor of one probe down.</summary>
    public const double ProbeFactor = 0.85;

    /// <summary>The smallest factor a raise on a queue takes the level by.</summary>
    public const double Bump = 1.3;

    /// <summary>The capacity planned over the admitted rate when a queue shows it.</summary>
    public const double Margin = 1.3;

    /// <summary>Readings a raise waits to show in the queue before another raise.</summary>
    public const int SettleReadings = 2;

    private readonly double _minLevel;
    private double _lastQueue = double.NaN;
    private DateTimeOffset? _lastAt;
    private DateTimeOffset? _changedAt;
    private int _sinceRaise = int.MaxValue;

    /// <summary>Creates the sizing with the lowest level it may ask for and the level it starts at.</summary>
    /// <param name="minLevel">The lowest level, in (0, 1].</param>
    /// <param name="initialLevel">The level it assumes before any reading, in (0, 1].</param>
    public BatchLoadSizing(double minLevel, double initialLevel = 1)
    {
        _minLevel = minLevel;
        Level = initialLevel;
    }

    /// <summary>The level the load needs, in [<c>minLevel</c>, 1].</summary>
    public double Level { get; private set; }

    /// <summary>True once a reading came in since the start or the last <see cref="Reset"/>.</summary>
    public bool Observed { get; private set; }

    /// <summary>True when the last <see cref="Observe"/> raised <see cref="Level"/> (a queue formed): raise at once.</summary>
    public bool Raised { get; private set; }

    /// <summary>The idle latency per 1k tokens of context, ms (NaN before an idle reading).</summary>
    public double IdleMsPerK { get; private set; } = double.NaN;

    /// <summary>The service rate Little's law gave at the last busy reading, requests/s (NaN before).</summary>
    public double LastServiceRate { get; private set; } = double.NaN;

    /// <summary>The admitted rate the queue's growth gave at the last busy reading, requests/s (NaN before).</summary>
    public double LastAdmittedRate { get; private set; } = double.NaN;

    /// <summary>
    /// Folds in one reading of the engine at <paramref name="at"/>: its <paramref name="level"/> of <c>reduce_batch</c>,
    /// <paramref name="contextK"/>, <paramref name="latencyMs"/>, <paramref name="queueDepth"/>; <paramref name="admittingAll"/>
    /// false while admission turns requests away. A reading at or before the last one is ignored.
    /// </summary>
    public void Observe(double level, double contextK, double latencyMs, double queueDepth, bool admittingAll, DateTimeOffset at)
    {
        Raised = false;
        if (!double.IsFinite(level) || !double.IsFinite(contextK) || contextK <= 0 || !double.IsFinite(latencyMs) || !double.IsFinite(queueDepth)) return;
        if (_lastAt is { } last && at <= last) return;
        var interval = _lastAt is { } previous ? (at - previous).TotalSeconds : 0;
        var lastQueue = _lastQueue;
        _lastAt = at;
        _lastQueue = queueDepth;
        Observed = true;
        if (_sinceRaise < int.MaxValue) _sinceRaise++;
        if (!admittingAll)
        {
            // Requests turned away: the load needs all that fits, and more than this level while it is under 1.
            Set(1, at);
            _changedAt = at;
            if (level < 1 && _sinceRaise >= SettleReadings)
            {
                Raised = true;
                _sinceRaise = 0;
            }
            return;
        }
        if (queueDepth < IdleQueue)
        {
            IdleMsPerK = double.IsNaN(IdleMsPerK) ? latencyMs / contextK : 0.5 * (IdleMsPerK + latencyMs / contextK);
            // It serves all it is given at this level: the load needs no more than it; probe lower once it has idled a while.
            var since = _changedAt ?? at;
            _changedAt ??= at;
            if (at - since >= ProbeInterval) Set(Math.Max(_minLevel, Math.Min(Level, level) * ProbeFactor), at);
            return;
        }
        // Not idle: the time it must idle before a probe starts again.
        _changedAt = at;
        if (queueDepth < BusyQueue || _sinceRaise < SettleReadings) return;
        // A queue: the batch does not keep up. Little's law gives the service rate, the queue's growth the admitted rate.
        var ratio = Bump;
        if (double.IsFinite(IdleMsPerK) && latencyMs > IdleMsPerK * contextK + 1 && double.IsFinite(lastQueue) && interval > 0)
        {
            var service = queueDepth / ((latencyMs - IdleMsPerK * contextK) / 1000);
            var admitted = Math.Max(0, (queueDepth - lastQueue) / interval) + service;
            LastServiceRate = service;
            LastAdmittedRate = admitted;
            // Throughput grows less than the batch (each slot slows the iteration): the ratio is a lower bound, raised by the margin.
            ratio = Math.Max(Bump, Margin * admitted / service);
        }
        Set(Math.Min(1, Math.Max(Level, level) * ratio), at);
        Raised = true;
        _sinceRaise = 0;
    }

    /// <summary>Assumes the load needs <paramref name="level"/> until a reading says more (a subsystem started at a prior level).</summary>
    public void Start(double level) => Level = Math.Clamp(level, _minLevel, 1);

    /// <summary>Forgets what it learnt of the load (the engine was down: its load starts afresh).</summary>
    public void Reset()
    {
        Level = 1;
        Observed = false;
        Raised = false;
        _lastQueue = double.NaN;
        _lastAt = null;
        _changedAt = null;
        _sinceRaise = int.MaxValue;
    }

    /// <summary>The reason's text: what the load needs and why.</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"load needs level {Level:0.###} (probed down while idle; Little's law at the last queue: service {LastServiceRate:0.##}/s, admitted {LastAdmittedRate:0.##}/s)");

    private void Set(double level, DateTimeOffset at)
    {
        if (Math.Abs(level - Level) > 1e-9) _changedAt = at;
        Level = level;
    }
}
