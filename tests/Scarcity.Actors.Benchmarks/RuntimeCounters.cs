using System.Diagnostics;
using System.Globalization;
using System.Runtime;

namespace Scarcity.Actors.Benchmarks;

/// <summary>
/// What the runtime did during a measured window, read from the process' own counters (the same ones dotnet-counters
/// shows): collections per generation, the time the GC paused every thread, lock contentions, thread-pool threads and
/// work items, and CPU time. Subtract two reads to get the window.
/// </summary>
/// <param name="Gen0">Generation 0 collections (<see cref="GC.CollectionCount"/>).</param>
/// <param name="Gen1">Generation 1 collections.</param>
/// <param name="Gen2">Generation 2 collections.</param>
/// <param name="GcPause">Time every managed thread was paused by the GC (<see cref="GC.GetTotalPauseDuration"/>).</param>
/// <param name="LockContentions">Monitor lock contentions (<see cref="Monitor.LockContentionCount"/>).</param>
/// <param name="PoolThreads">Thread-pool threads at the read (a difference: threads added in the window).</param>
/// <param name="WorkItems">Thread-pool work items completed.</param>
/// <param name="Cpu">User and system CPU time of the process.</param>
/// <param name="Allocated">Bytes allocated by all threads.</param>
internal sealed record RuntimeCounters(int Gen0, int Gen1, int Gen2, TimeSpan GcPause, long LockContentions, int PoolThreads,
    long WorkItems, TimeSpan Cpu, long Allocated, long JitMethods, TimeSpan JitTime)
{
    public static RuntimeCounters Read() => new(GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2),
        GC.GetTotalPauseDuration(), Monitor.LockContentionCount, ThreadPool.ThreadCount, ThreadPool.CompletedWorkItemCount,
        Process.GetCurrentProcess().TotalProcessorTime, GC.GetTotalAllocatedBytes(),
        System.Runtime.JitInfo.GetCompiledMethodCount(), System.Runtime.JitInfo.GetCompilationTime());

    public static RuntimeCounters operator -(RuntimeCounters a, RuntimeCounters b) => new(a.Gen0 - b.Gen0, a.Gen1 - b.Gen1,
        a.Gen2 - b.Gen2, a.GcPause - b.GcPause, a.LockContentions - b.LockContentions, a.PoolThreads - b.PoolThreads,
        a.WorkItems - b.WorkItems, a.Cpu - b.Cpu, a.Allocated - b.Allocated, a.JitMethods - b.JitMethods, a.JitTime - b.JitTime);

    /// <summary>The GC and thread settings the process runs with (from runtimeconfig.json or DOTNET_ variables).</summary>
    public static string Settings()
    {
        ThreadPool.GetMinThreads(out var minWorkers, out _);
        return string.Create(CultureInfo.InvariantCulture,
            $"ServerGC={GCSettings.IsServerGC} latency mode={GCSettings.LatencyMode} concurrent={AppContext.GetData("System.GC.Concurrent") ?? "default"} " +
            $"heap hard limit={GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024 * 1024)} MiB, thread pool min workers={minWorkers}, " +
            $"TieredPGO={AppContext.GetData("System.Runtime.TieredPGO") ?? "default"}");
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"GCs gen0={Gen0} gen1={Gen1} gen2={Gen2}, GC pause {GcPause.TotalMilliseconds:0.0} ms, allocated {Allocated / 1024.0 / 1024:0.0} MiB, " +
        $"lock contentions {LockContentions}, thread-pool threads +{PoolThreads}, work items {WorkItems}, CPU {Cpu.TotalMilliseconds:0} ms, " +
        $"JIT {JitMethods} methods compiled ({JitTime.TotalMilliseconds:0} ms)");
}
