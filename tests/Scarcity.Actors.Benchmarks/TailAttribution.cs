using System.Diagnostics.Tracing;
using System.Globalization;
using System.Text;

namespace Scarcity.Actors.Benchmarks;

/// <summary>
/// Which slow samples of a latency run a stop-the-world GC explains: an in-process listener on the runtime's EventPipe
/// GC events (the ones <c>dotnet-trace</c> collects with the <c>gc</c> keyword) records every pause, from
/// <c>GCSuspendEEBegin</c> to <c>GCRestartEEEnd</c>, and each slow sample is matched against them. The rest is told by
/// its place in the snapshot cycles (the profiler saves a snapshot every <c>SnapshotEverySamples</c> samples, the
/// actuator every <c>SnapshotEvery</c> decisions): a tail that the snapshots cause gathers on a few phases.
/// </summary>
internal sealed class TailAttribution : EventListener
{
    private const int GcSuspendEeBegin = 9;
    private const int GcRestartEeEnd = 3;
    private const int GcStart = 1;
    private readonly List<(DateTime From, DateTime To, int Generation)> _pauses = [];
    private DateTime? _suspendedAt;
    private int _generation = -1;

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, EventLevel.Informational, (EventKeywords)0x1); // GC
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        lock (_pauses)
        {
            switch (e.EventId)
            {
                case GcSuspendEeBegin: _suspendedAt = e.TimeStamp; _generation = -1; break;
                case GcStart when e.Payload is { Count: > 1 } p: _generation = Convert.ToInt32(p[1], CultureInfo.InvariantCulture); break;
                case GcRestartEeEnd when _suspendedAt is { } from:
                    _pauses.Add((from, e.TimeStamp, _generation));
                    _suspendedAt = null;
                    break;
            }
        }
    }

    /// <summary>
    /// One paragraph on the samples slower than <paramref name="slowMs"/>: how many a GC pause overlapped (by generation,
    /// with the pauses' own lengths), and how the rest spread over the phases of the snapshot cycles.
    /// </summary>
    /// <param name="sentAt">When each measured sample was sent (UTC, the clock the events carry).</param>
    /// <param name="latencyMs">Its sample-to-Throttle latency in ms, same order.</param>
    /// <param name="firstIndex">The sample number of the first measured sample (the warm-up count).</param>
    /// <param name="cycles">Snapshot cycles to test, in samples (e.g. 40 and 100).</param>
    public string Explain(DateTime[] sentAt, double[] latencyMs, int firstIndex, double slowMs, params int[] cycles)
    {
        Thread.Sleep(500); // runtime events reach a listener asynchronously
        List<(DateTime From, DateTime To, int Generation)> pauses;
        lock (_pauses) pauses = [.. _pauses];
        var runFrom = sentAt[0];
        var runTo = sentAt[^1];
        var inRun = pauses.Where(p => p.To >= runFrom && p.From <= runTo).ToList();
        var slow = Enumerable.Range(0, latencyMs.Length).Where(i => latencyMs[i] > slowMs).ToList();
        var byGc = slow.Where(i => inRun.Any(p => p.From <= sentAt[i].AddMilliseconds(latencyMs[i]) && p.To >= sentAt[i])).ToList();
        var rest = slow.Except(byGc).ToList();
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture,
            $"Samples over {slowMs} ms: {slow.Count}; during a GC pause: {byGc.Count}; GC pauses in the run: {inRun.Count} " +
            $"(gen0/1/2: {inRun.Count(p => p.Generation == 0)}/{inRun.Count(p => p.Generation == 1)}/{inRun.Count(p => p.Generation == 2)}), " +
            $"longest {(inRun.Count > 0 ? inRun.Max(p => (p.To - p.From).TotalMilliseconds) : 0):0.00} ms, total {inRun.Sum(p => (p.To - p.From).TotalMilliseconds):0.0} ms.");
        foreach (var cycle in cycles)
        {
            if (rest.Count == 0) break;
            var top = rest.GroupBy(i => (i + firstIndex) % cycle).OrderByDescending(g => g.Count()).Take(3)
                .Select(g => $"{g.Key} ({g.Count()})");
            text.Append(CultureInfo.InvariantCulture, $" The other {rest.Count} by sample number mod {cycle}: {string.Join(", ", top)} (even spread: {rest.Count / (double)cycle:0.0} each).");
        }
        return text.ToString();
    }
}
