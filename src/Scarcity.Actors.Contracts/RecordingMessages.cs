using System.Collections.Immutable;

namespace Scarcity.Actors.Contracts;

/// <summary>What a <see cref="TelemetryRecord"/> holds.</summary>
public enum RecordKind
{
    /// <summary>A sensor <see cref="Sample"/> of a host: <see cref="TelemetryRecord.Values"/> and <see cref="TelemetryRecord.Stale"/>.</summary>
    Sample = 1,
    /// <summary>A subsystem's <see cref="ReportMetrics"/> (unlabelled metric names, e.g. <c>latency_ms</c>, <c>context_k</c>).</summary>
    Report = 2,
    /// <summary>A registration the actuator accepted from a new actor: <see cref="TelemetryRecord.Priority"/>, actions, latency objective.</summary>
    Registration = 3,
    /// <summary>The profiler evaluated the host's subsystems at <see cref="TelemetryRecord.At"/> without a sample (app metrics alone).</summary>
    Evaluated = 4,
}

/// <summary>
/// One record of the telemetry recording (<c>Scarcity:Recording</c>): enough to run the profile and policy core again
/// (<c>scarcity replay</c>). A flat shape for every kind, so one file format and one wire message carry them all; the
/// fields a kind does not use are empty.
/// </summary>
/// <param name="Kind">What it is.</param>
/// <param name="Host">The host.</param>
/// <param name="At">The reading's (or the evaluation's) time, as the profiler used it.</param>
/// <param name="Values">Readings: series name and value (a sample's series, a report's unlabelled metrics); empty otherwise.</param>
/// <param name="Stale">A sample's series its sensor reported stale; empty otherwise.</param>
/// <param name="Subsystem">The subsystem of a report or registration; empty otherwise.</param>
/// <param name="Priority">A registration's priority; 0 otherwise.</param>
/// <param name="Actions">A registration's declared actions; empty otherwise.</param>
/// <param name="LatencyObjectiveMs">A registration's latency objective in milliseconds, or null.</param>
public sealed record TelemetryRecord(
    RecordKind Kind, string Host, DateTimeOffset At, ImmutableArray<MetricValue> Values, ImmutableArray<string> Stale,
    string Subsystem, int Priority, ImmutableArray<string> Actions, double? LatencyObjectiveMs) : IScarcityMessage
{
    /// <summary>The record of a sample.</summary>
    public static TelemetryRecord Of(Sample sample) =>
        new(RecordKind.Sample, sample.Host, sample.At, sample.Values, sample.Stale.IsDefault ? [] : sample.Stale, "", 0, [], null);

    /// <summary>The record of a subsystem's report (its values in name order, so a record reads back equal).</summary>
    public static TelemetryRecord Of(ReportMetrics report) =>
        new(RecordKind.Report, report.Host, report.At,
            [.. report.Values.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => new MetricValue(kv.Key, kv.Value))], [], report.Subsystem, 0, [], null);

    /// <summary>The record of an accepted registration, at <paramref name="at"/> (the actuator's clock).</summary>
    public static TelemetryRecord Of(RegisterSubsystem register, DateTimeOffset at) =>
        new(RecordKind.Registration, register.Host, at, [], [], register.Name, register.Priority, register.Actions, register.LatencyObjectiveMs);

    /// <summary>The record of an evaluation without a sample.</summary>
    public static TelemetryRecord EvaluatedAt(string host, DateTimeOffset at) => new(RecordKind.Evaluated, host, at, [], [], "", 0, [], null);
}

/// <summary>
/// Asks a governor node's recorder (<see cref="ServicePaths.TelemetryRecorder"/>) for one bounded page of its recording;
/// answered by <see cref="RecordingPage"/> (or <see cref="OperationFailed"/>).
/// </summary>
/// <param name="From">Records at or after this time.</param>
/// <param name="To">Records at or before this time.</param>
/// <param name="Host">Only this host's records; null: every host's.</param>
/// <param name="Cursor">Where the previous page ended (<see cref="RecordingPage.NextCursor"/>); null: the first page.</param>
/// <param name="MaxRecords">At most this many records (the page also stops near 64 kB of readings).</param>
/// <param name="Node">The member whose recording is read (<c>akka.tcp://scarcity@host:port</c>); null: the answering node.</param>
public sealed record GetRecording(DateTimeOffset From, DateTimeOffset To, string? Host, string? Cursor, int MaxRecords, string? Node = null) : IScarcityMessage;

/// <summary>One page of a node's recording.</summary>
/// <param name="Node">The member that read it.</param>
/// <param name="Records">In file order (per host, time order), registrations carried at each segment's start included.</param>
/// <param name="NextCursor">Pass it back for the next page; null: this was the last.</param>
/// <param name="Enabled">Whether the node records (false: the page is empty because recording is off there).</param>
public sealed record RecordingPage(string Node, ImmutableArray<TelemetryRecord> Records, string? NextCursor, bool Enabled) : IScarcityMessage;
