using System.Globalization;

namespace Scarcity.Actors.Policies;

/// <summary>
/// Admission by latency on <c>throttle</c>, in the spirit of Netflix concurrency-limits' Gradient2 and Envoy's adaptive
/// concurrency: it admits as much as capacity serves and keeps latency at <see cref="TargetMs"/> (a fraction of the
/// objective). With a queue to read, Little's law sizes the level (see <see cref="Next"/>); without one, the gradient
/// <c>target / predicted latency</c> cuts it, and headroom brings it back to the capacity last seen and probes past it.
/// Pure and deterministic: readings come in with their intervals. Not thread-safe (one policy owns it).
/// </summary>
/// <remarks>
/// The prediction adds the latest trend (one reading ahead, which covers the delay between a decision and its effect):
/// with a queue, latency is proportional to the requests waiting, so the queue's growth (<c>queue_depth</c>) scales it,
/// else the latency's own rise does.
/// </remarks>
public sealed class LatencyAdmission
{
    private double _lastLatency = double.NaN;
    private double _lastQueue = double.NaN;

    /// <summary>Creates the limiter for a latency objective.</summary>
    /// <param name="objectiveMs">Latency objective, ms (positive).</param>
    /// <param name="setpoint">Fraction of the objective aimed at, in (0, 1].</param>
    /// <param name="minLevel">The lowest admitted share.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public LatencyAdmission(double objectiveMs, double setpoint, double minLevel)
    {
        if (!(objectiveMs > 0 && double.IsFinite(objectiveMs))) throw new ArgumentOutOfRangeException(nameof(objectiveMs), objectiveMs, "must be positive");
        if (!(setpoint > 0 && setpoint <= 1)) throw new ArgumentOutOfRangeException(nameof(setpoint), setpoint, "must be in (0, 1]");
        ObjectiveMs = objectiveMs;
        Setpoint = setpoint;
        MinLevel = minLevel;
    }

    /// <summary>The largest factor one reading may cut the level by (the gradient's lower clamp).</summary>
    public const double MaxCut = 0.5;

    /// <summary>The largest factor one reading may raise the level by (the gradient's upper clamp).</summary>
    public const double MaxRaise = 1.25;

    /// <summary>Latency objective, ms.</summary>
    public double ObjectiveMs { get; set; }

    /// <summary>Fraction of the objective aimed at.</summary>
    public double Setpoint { get; }

    /// <summary>The lowest level it sets.</summary>
    public double MinLevel { get; }

    /// <summary>The latency it aims at, ms.</summary>
    public double TargetMs => Setpoint * ObjectiveMs;

    /// <summary>The prediction of the last <see cref="Next"/>, ms.</summary>
    public double LastPredictionMs { get; private set; } = double.NaN;

    /// <summary>The last gradient, <c>target / prediction</c>.</summary>
    public double LastGradient { get; private set; } = double.NaN;

    /// <summary>Forgets the trend (the subsystem was down: its next reading starts afresh).</summary>
    public void Reset()
    {
        _lastLatency = double.NaN;
        _lastQueue = double.NaN;
        _previousLevel = double.NaN;
        _probe = 1;
    }

    /// <summary>
    /// The level after a reading of <paramref name="latencyMs"/> (and <paramref name="queueDepth"/>, NaN when not
    /// reported) at <paramref name="level"/>, <paramref name="intervalSeconds"/> after the previous reading: lower while
    /// the predicted latency is over <see cref="TargetMs"/>, higher while it is under, at most 1.
    /// </summary>
    /// <remarks>
    /// With a queue waiting, Little's law gives the service rate (<c>queue / (latency - idle latency)</c>) and the queue's
    /// growth the admitted rate; the level is scaled by the rate wanted (the service rate, plus draining the queue to
    /// what the target allows within <see cref="DrainTime"/>) over the rate admitted. Without a queue, latency says
    /// nothing of how much more would fit: the level climbs back to <see cref="Ceiling"/> (the capacity seen last) and
    /// probes past it.
    /// </remarks>
    public double Next(double level, double latencyMs, double queueDepth, double intervalSeconds = 0.25)
    {
        var hasQueue = double.IsFinite(queueDepth);
        if (hasQueue && queueDepth < IdleQueue)
            _idleMs = double.IsNaN(_idleMs) ? latencyMs : 0.5 * (_idleMs + latencyMs);
        var prediction = latencyMs;
        if (hasQueue && double.IsFinite(_lastQueue) && queueDepth >= 1 && _lastQueue >= 1)
            prediction = latencyMs * Math.Max(1, queueDepth / _lastQueue);
        else if (double.IsFinite(_lastLatency))
            prediction = latencyMs + Math.Max(0, latencyMs - _lastLatency);
        var lastQueue = _lastQueue;
        _lastLatency = latencyMs;
        _lastQueue = queueDepth;
        LastPredictionMs = prediction;
        var gradient = TargetMs / Math.Max(prediction, 1e-3);
        LastGradient = gradient;
        double next;
        _steady = Math.Abs(level - _previousLevel) < 1e-9 ? _steady + 1 : 0;
        var busy = hasQueue && double.IsFinite(lastQueue) && queueDepth >= BusyQueue && double.IsFinite(_idleMs)
                   && latencyMs > _idleMs + 1 && intervalSeconds > 0;
        if (busy && _steady < SettleReadings && prediction <= ObjectiveMs)
        {
            // The last change has not shown in the queue yet: wait for it (unless the objective itself is at stake).
            next = level;
        }
        else if (busy && _steady >= SettleReadings)
        {
            var serviceRate = queueDepth / ((latencyMs - _idleMs) / 1000);
            var admitted = (queueDepth - lastQueue) / intervalSeconds + serviceRate;
            var queueTarget = serviceRate * Math.Max(0, TargetMs - _idleMs) / 1000;
            var wanted = serviceRate + (queueTarget - queueDepth) / DrainTime.TotalSeconds;
            // The level has been steady long enough for the queue's growth to be its doing.
            var inEffect = level;
            next = admitted > 0.05 * serviceRate ? inEffect * Math.Clamp(wanted / admitted, MaxCut, MaxRaise) : level * MaxRaise;
            // The level that admits what it serves: where the probing stops climbing fast.
            if (admitted > 0.05 * serviceRate) Ceiling = Math.Clamp(inEffect * serviceRate / admitted, MinLevel, 1);
            _probe = 0;
            LastServiceRate = serviceRate;
        }
        else if (gradient < 1)
        {
            // Over the target with no queue to read: the level that got it there is the capacity seen; cut by the gradient.
            if (_probe > 0) Ceiling = double.IsFinite(_previousLevel) ? Math.Max(level, _previousLevel) : level;
            _probe = 0;
            next = level * Math.Max(MaxCut, gradient);
        }
        else if (level < ApproachFraction * Ceiling - Math.Max(0.01, MinStep * level))
        {
            // Under the target, well below the capacity last seen: back towards it by the headroom.
            next = Math.Min(ApproachFraction * Ceiling, level * Math.Min(MaxRaise, gradient));
        }
        else
        {
            // Near or past the capacity last seen: probe, faster the longer latency keeps its headroom (CUBIC-like).
            _probe++;
            next = level + ProbeStep * Math.Pow(2, (_probe - 1) / 4.0);
            if (next > Ceiling) Ceiling = next;
        }
        _previousLevel = level;
        // A dead band keeps a steady latency from sending a throttle every reading.
        if (Math.Abs(next - level) < Math.Max(0.01, MinStep * level)) next = level;
        return Math.Clamp(next, MinLevel, 1);
    }

    /// <summary>Requests waiting below which the subsystem counts as idle (its latency is the idle latency).</summary>
    public const double IdleQueue = 0.05;

    /// <summary>Requests waiting from which Little's law is applied.</summary>
    public const double BusyQueue = 0.5;

    /// <summary>How soon a queue over what the target allows is drained.</summary>
    public static readonly TimeSpan DrainTime = TimeSpan.FromSeconds(1);

    private double _idleMs = double.NaN;
    private int _steady;

    /// <summary>Readings a level must have held before Little's law reads the queue's growth as its doing.</summary>
    public const int SettleReadings = 2;

    /// <summary>The service rate last estimated by Little's law, requests per second (NaN before).</summary>
    public double LastServiceRate { get; private set; } = double.NaN;

    private int _probe = 1;
    private double _previousLevel = double.NaN;

    /// <summary>The level at which latency last went over the target (the capacity seen); 1 before.</summary>
    public double Ceiling { get; private set; } = 1;

    /// <summary>The fraction of <see cref="Ceiling"/> the level climbs back to at once.</summary>
    public const double ApproachFraction = 0.95;

    /// <summary>The smallest change, relative to the level.</summary>
    public const double MinStep = 0.03;

    /// <summary>The first probing step past the ceiling; it doubles every four readings of headroom.</summary>
    public const double ProbeStep = 0.01;

    /// <summary>The reason's text: the limiter, its prediction and its target.</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"latency admission: predicted latency_ms {LastPredictionMs:0} vs target {TargetMs:0} ({Setpoint:0.##} x objective {ObjectiveMs:0}), gradient {LastGradient:0.###}");
}
