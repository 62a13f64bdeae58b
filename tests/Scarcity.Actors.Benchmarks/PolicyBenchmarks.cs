using System.Collections.Immutable;
using BenchmarkDotNet.Attributes;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;

namespace Scarcity.Actors.Benchmarks;

/// <summary>
/// Rule evaluation for one subsystem: 10 rules on 4 actions against a 20-series host snapshot (labelled GPU and
/// subsystem series included), in steady state: one action held at its floor by an active rule, the others quiet at
/// level 1, so no evaluation changes a level. Target: at least 200,000 evaluations/s (under 5 us each).
/// </summary>
[MemoryDiagnoser]
public class PolicyBenchmarks
{
    private const string Subsystem = "engine";
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Now = T0.AddHours(1);

    private static string Gpu(string metric, int gpu) => MetricNames.Labelled(metric, MetricNames.GpuLabel, gpu.ToString());

    /// <summary>The 20 series of a two-GPU inference host with one subsystem reporting its latency.</summary>
    private static readonly (string Name, double Value)[] Series =
    [
        (MetricNames.CpuUtil, 0.95),            // hot: holds 'throttle' at its floor
        (MetricNames.MemUtil, 0.62),
        (MetricNames.MemAvailableGb, 48.5),
        (MetricNames.SwapUtil, 0.01),
        (MetricNames.PsiCpu, 0.12),
        (MetricNames.PsiMem, 0.02),
        (MetricNames.PsiIo, 0.04),
        (MetricNames.DiskReadMb, 35.0),
        (MetricNames.DiskWriteMb, 12.0),
        (MetricNames.NetRecvMb, 80.0),
        (MetricNames.GpuUtil, 0.71),
        (MetricNames.VramUtil, 0.64),
        (Gpu(MetricNames.GpuUtil, 0), 0.71),
        (Gpu(MetricNames.GpuUtil, 1), 0.55),
        (Gpu(MetricNames.VramUtil, 0), 0.64),
        (Gpu(MetricNames.VramUtil, 1), 0.48),
        (Gpu(MetricNames.GpuTempC, 0), 71.0),
        (Gpu(MetricNames.GpuTempC, 1), 66.0),
        (MetricNames.LatencyMs, 180.0),
        (MetricNames.Labelled(MetricNames.LatencyMs, MetricNames.SubsystemLabel, Subsystem), 210.0),
    ];

    /// <summary>10 rules, mixed actions, signals, directions and priorities.</summary>
    private static readonly PolicyRule[] Rules =
    [
        new(MetricNames.VramUtil, 0.85, ActionNames.ReduceBatch, 0.5) { Signal = SignalKind.Forecast, Release = 0.80 },
        new(Gpu(MetricNames.VramUtil, 1), 0.90, ActionNames.ReduceBatch, 0.7, Priority: 2) { Signal = SignalKind.Raw },
        new(MetricNames.SwapUtil, 0.50, ActionNames.ReduceBatch, 0.8) { Signal = SignalKind.Ema },
        new(MetricNames.CpuUtil, 0.90, ActionNames.Throttle, 0.7) { Signal = SignalKind.Ema, Release = 0.80 },
        new(MetricNames.PsiCpu, 0.50, ActionNames.Throttle, 0.8, Priority: 2) { Signal = SignalKind.Estimate },
        new(Gpu(MetricNames.GpuTempC, 0), 85, ActionNames.Throttle, 0.8) { Signal = SignalKind.Raw, Cooldown = TimeSpan.FromSeconds(2) },
        new(MetricNames.LatencyMs, 500, ActionNames.ShedLoad, 0.5) { Signal = SignalKind.Ema, Release = 400 },
        new(MetricNames.PsiMem, 0.30, ActionNames.ShedLoad, 0.6) { Signal = SignalKind.Ema },
        new(MetricNames.MemUtil, 0.92, ActionNames.ShedLoad, 0.5) { Signal = SignalKind.Forecast },
        new(MetricNames.GpuUtil, 0.95, ActionNames.ScaleUp, 1.5) { Signal = SignalKind.Estimate },
    ];

    private SubsystemPolicy _policy = null!;
    private ImmutableDictionary<string, MetricEstimate> _immutable = null!;
    private Dictionary<string, MetricEstimate> _dictionary = null!;
    private ImmutableDictionary<string, MetricEstimate> _oneMissing = null!;

    private static MetricEstimate Estimate(double v) => new(v, v, v, 0, v, 0.01, Now, Stale: false);

    [GlobalSetup]
    public void Setup()
    {
        _immutable = Series.ToImmutableDictionary(s => s.Name, s => Estimate(s.Value), StringComparer.Ordinal);
        _dictionary = new Dictionary<string, MetricEstimate>(_immutable, StringComparer.Ordinal);
        _oneMissing = _immutable.Remove(Gpu(MetricNames.VramUtil, 1));
        _policy = new SubsystemPolicy(Subsystem, Rules, new PolicyConfig());
        _policy.Restore(ActionNames.Throttle, new ActionState(0.1, T0)); // at MinLevel: the active rule cannot lower it further
        // Warm up and check the steady state: no evaluation changes a level.
        for (var i = 0; i < 3; i++)
        {
            if (_policy.Evaluate(_immutable, Now).Count != 0 || _policy.Evaluate(_dictionary, Now).Count != 0 ||
                _policy.Evaluate(_oneMissing, Now).Count != 0)
                throw new InvalidOperationException("the benchmark's state is not steady: a level changed");
        }
        if (!_policy.IsActive(Rules[3])) throw new InvalidOperationException("the cpu rule should be active");
    }

    /// <summary>Steady state on the profiler's own snapshot type (what <c>ActuatorActor</c> evaluates).</summary>
    [Benchmark(Baseline = true)]
    public int EvaluateImmutableDictionary() => _policy.Evaluate(_immutable, Now).Count;

    /// <summary>The same on a plain <see cref="Dictionary{TKey,TValue}"/> snapshot.</summary>
    [Benchmark]
    public int EvaluateDictionary() => _policy.Evaluate(_dictionary, Now).Count;

    /// <summary>The same with one rule's series missing: the rule is skipped and the reason reported.</summary>
    [Benchmark]
    public int EvaluateOneMetricMissing() => _policy.Evaluate(_oneMissing, Now).Count;
}
