using System.Diagnostics.Tracing;
using System.Globalization;
using Microsoft.Extensions.Hosting;

namespace Scarcity.Actors.FleetBench;

/// <summary>
/// <c>BENCH_GC_REPORT=1</c>: every 10 s one <c>GCSTAT</c> line of this node's garbage collections in those 10 s (by
/// generation) and the pauses they made (count, total, longest, and the generation of the longest), from the runtime's
/// own events (<c>GCSuspendEEBegin</c> to <c>GCRestartEEEnd</c>), to tell a decision-latency tail caused by a pause from
/// one that is not.
/// </summary>
internal sealed class GcPauseReport : BackgroundService
{
    private static readonly TimeSpan Every = TimeSpan.FromSeconds(10);
    private readonly string _node;
    private readonly bool _allocations;

    /// <param name="node">The node's name in the lines.</param>
    /// <param name="allocations">Also one <c>GCALLOC</c> line per 10 s: the types allocated most, from the runtime's allocation
    /// ticks (one per ~100 KB allocated, naming the type that crossed it): a sample of where the allocations go.</param>
    public GcPauseReport(string node, bool allocations)
    {
        _node = node;
        _allocations = allocations;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var pauses = new PauseListener(_allocations);
        var counts = Counts();
        using var timer = new PeriodicTimer(Every);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            var now = Counts();
            var (n, totalMs, maxMs, maxGen) = pauses.Take();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"GCSTAT t_ms={DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()} node={_node} gen0={now[0] - counts[0]} gen1={now[1] - counts[1]} gen2={now[2] - counts[2]} pauses={n} pause_ms_total={totalMs:0.0} pause_ms_max={maxMs:0.0} max_gen={maxGen} heap_mb={GC.GetTotalMemory(false) / 1048576.0:0}"));
            counts = now;
            if (_allocations)
                Console.WriteLine($"GCALLOC node={_node} " + string.Join(" ", pauses.TakeAllocations().OrderByDescending(a => a.Value).Take(15)
                    .Select(a => string.Create(CultureInfo.InvariantCulture, $"{a.Key}={a.Value}"))));
        }
    }

    private static int[] Counts() => [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];

    private sealed class PauseListener : EventListener
    {
        private const int GcStart = 1, GcRestartEeEnd = 3, GcSuspendEeBegin = 9, GcAllocationTick = 10;
        private readonly object _lock = new();
        private readonly bool _allocations;
        private readonly Dictionary<string, int> _ticks = new(StringComparer.Ordinal);
        private EventSource? _runtime;
        private DateTime? _suspendedAt;
        private int _generation = -1;
        private int _count;
        private double _totalMs, _maxMs;
        private int _maxGen = -1;

        public PauseListener(bool allocations)
        {
            _allocations = allocations;
            // The base constructor may already have announced the runtime's source, before the field above was set.
            if (allocations && _runtime is not null) EnableEvents(_runtime, EventLevel.Verbose, (EventKeywords)0x1);
        }

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name != "Microsoft-Windows-DotNETRuntime") return;
            _runtime = source;
            // The allocation ticks are verbose GC events.
            EnableEvents(source, _allocations ? EventLevel.Verbose : EventLevel.Informational, (EventKeywords)0x1);
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            lock (_lock)
            {
                switch (e.EventId)
                {
                    // Only a suspension for a GC (reason 1) or its preparation (6): the runtime suspends for other work too
                    // (a tiered rejit, a debugger), which is not a GC pause.
                    case GcSuspendEeBegin when e.Payload is { Count: > 0 } p && Convert.ToInt32(p[0], CultureInfo.InvariantCulture) is 1 or 6:
                        _suspendedAt = e.TimeStamp;
                        break;
                    case GcSuspendEeBegin: _suspendedAt = null; break;
                    case GcAllocationTick when e.Payload is { Count: > 5 } p && p[5] is string type:
                        _ticks[type] = _ticks.GetValueOrDefault(type) + 1;
                        break;
                    case GcStart when e.Payload is { Count: > 1 } p: _generation = Convert.ToInt32(p[1], CultureInfo.InvariantCulture); break;
                    case GcRestartEeEnd when _suspendedAt is { } from:
                        var ms = (e.TimeStamp - from).TotalMilliseconds;
                        _count++;
                        _totalMs += ms;
                        if (ms > _maxMs) (_maxMs, _maxGen) = (ms, _generation);
                        _suspendedAt = null;
                        break;
                }
            }
        }

        public Dictionary<string, int> TakeAllocations()
        {
            lock (_lock)
            {
                var result = new Dictionary<string, int>(_ticks);
                _ticks.Clear();
                return result;
            }
        }

        public (int Count, double TotalMs, double MaxMs, int MaxGen) Take()
        {
            lock (_lock)
            {
                var result = (_count, _totalMs, _maxMs, _maxGen);
                (_count, _totalMs, _maxMs, _maxGen) = (0, 0, 0, -1);
                return result;
            }
        }
    }
}
