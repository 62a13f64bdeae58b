using System.Text.RegularExpressions;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Cli;

// The --json shapes of every command: stable, documented in docs/cli.md. Add fields; never rename or remove one.

/// <summary><c>cluster show</c>.</summary>
public sealed record ClusterShowDto(string AnsweredBy, string? Leader, IReadOnlyList<MemberDto> Members, IReadOnlyList<string> Unreachable);

/// <summary>A cluster member.</summary>
public sealed record MemberDto(string Address, string Status, IReadOnlyList<string> Roles, bool Reachable, bool Leader);

/// <summary><c>cluster leave|down|down-unreachable</c>.</summary>
public sealed record OperationDto(string Operation, IReadOnlyList<string> Addresses, string Detail);

/// <summary>One series of a host; the forecast band is <c>forecast ± forecastStdDev</c>.</summary>
public sealed record MetricDto(
    string Metric, double Raw, double Ema, double Estimate, double Trend, double Forecast, double ForecastStdDev, DateTimeOffset UpdatedAt, bool Stale);

/// <summary>
/// One host in <c>nodes</c> and <c>watch</c>: its pressure and key metrics, and the rules of its subsystems that are not
/// evaluated now, with why: a metric never reported on this host (the rule counts as released) or one that went stale
/// or missing (the level holds), each as <c>subsystem: rule: reason</c>.
/// </summary>
public sealed record NodeDto(string Host, string Pressure, DateTimeOffset At, bool Stale, IReadOnlyList<MetricDto> Metrics, IReadOnlyList<string> Rules);

/// <summary><c>nodes</c>; <see cref="Database"/> says why journal writes fail (null while they succeed).</summary>
public sealed record NodesDto(IReadOnlyList<NodeDto> Nodes, string? Database = null);

/// <summary>Every series of one GPU.</summary>
public sealed record GpuDto(string Gpu, IReadOnlyList<MetricDto> Metrics);

/// <summary><c>node &lt;host&gt;</c>: every host series, and every GPU's series apart.</summary>
public sealed record NodeDetailDto(string Host, string Pressure, DateTimeOffset At, bool Stale, IReadOnlyList<MetricDto> Metrics, IReadOnlyList<GpuDto> Gpus);

/// <summary>
/// One subsystem. <see cref="Unjournaled"/>: its decisions not yet in the journal; <see cref="JournalError"/>: why its
/// journal writes fail (null while they succeed); <see cref="JournalOverflowed"/>: events dropped unwritten for room;
/// <see cref="Model"/>: null when no model is learned; <see cref="Ineffective"/>: the actions held by the effect check.
/// </summary>
public sealed record SubsystemDto(
    string Name, string Host, int Priority, IReadOnlyDictionary<string, double> Levels, long LastSequence, long LastAckedSequence,
    bool Acked, bool Reachable, IReadOnlyList<string> Skipped, int Unjournaled = 0, string? JournalError = null, long JournalOverflowed = 0,
    ModelDto? Model = null, IReadOnlyDictionary<string, string>? Ineffective = null, IReadOnlyDictionary<string, double>? DryLevels = null,
    int PolicyVersion = 0, int? DryPolicyVersion = null);

/// <summary>A learned model: <c>vram_util = intercept + slope × level × context_k</c>, and what it predicts now.</summary>
public sealed record ModelDto(string Action, double Intercept, double Slope, double Residual, double Confidence, int Samples, bool Confident,
    int Distrusted, double ContextK, double Prediction, double Headroom);

/// <summary><c>subsystems</c>; <see cref="Database"/> says why journal writes fail (null while they succeed).</summary>
public sealed record SubsystemsDto(IReadOnlyList<SubsystemDto> Subsystems, string? Database = null);

/// <summary>One rule of <c>policies</c>.</summary>
public sealed record RuleDto(
    string Metric, string Signal, string Direction, double Threshold, double Release, string Action, double Factor, int Priority,
    double? CooldownSeconds, string Display);

/// <summary>The level settings of <c>policies</c>.</summary>
public sealed record PolicySettingsDto(
    double CooldownSeconds, double RecoveryDelaySeconds, double RecoveryStep, double MinLevel, double MaxScaleUp, IReadOnlyList<string> CustomActions);

/// <summary><c>policies</c>.</summary>
public sealed record PoliciesDto(PolicySettingsDto Settings, bool Defaults, IReadOnlyDictionary<string, IReadOnlyList<RuleDto>> Rules, int Version = 0);

/// <summary>
/// <c>policies validate &lt;file&gt;</c>: <see cref="Errors"/> holds each problem in one line (key first), <see cref="Problems"/>
/// the same with the key apart.
/// </summary>
public sealed record ValidationDto(string File, bool Valid, IReadOnlyList<string> Errors, IReadOnlyList<ProblemDto> Problems);

/// <summary>One problem of a policy file: its configuration key (null when the file is not JSON), the message, the line of a JSON syntax error.</summary>
public sealed record ProblemDto(string? Key, string Message, int? Line);

/// <summary>Any command with <c>--json</c> that fails: the message <c>scarcity: ...</c> would print, and the exit code.</summary>
public sealed record ErrorDto(string Error, int ExitCode);

/// <summary>Why a decision was taken.</summary>
public sealed record ReasonDto(string Rule, string Metric, string Signal, double Value, double Forecast, double Threshold, string Text);

/// <summary>One decision of <c>actions</c> (and one line of <c>actions --tail --json</c>).</summary>
public sealed record DecisionDto(
    DateTimeOffset At, string Subsystem, string Host, string Action, double PreviousLevel, double Level, long Sequence, bool Sent,
    string Detail, ReasonDto Reason, IReadOnlyDictionary<string, double> Inputs, string PersistenceId, long SequenceNr, bool Dry = false);

/// <summary><c>actions</c>.</summary>
public sealed record ActionsDto(IReadOnlyList<DecisionDto> Decisions, IReadOnlyList<string> Errors);

/// <summary>One frame of <c>watch --json</c> (one line each).</summary>
public sealed record WatchFrameDto(DateTimeOffset At, IReadOnlyList<NodeDto> Nodes, IReadOnlyList<SubsystemDto> Subsystems);

/// <summary>One shard and its entities.</summary>
public sealed record ShardDto(string Shard, IReadOnlyList<string> Entities);

/// <summary>One region on one node.</summary>
public sealed record RegionDto(string Node, string Region, int ShardCount, int EntityCount, IReadOnlyList<ShardDto> Shards);

/// <summary><c>sharding</c>.</summary>
public sealed record ShardingDto(IReadOnlyList<RegionDto> Regions);

/// <summary>From the governor's records to the CLI's shapes.</summary>
public static partial class Dto
{
    /// <summary>The host series shown by <c>nodes</c> and <c>watch</c>, when the host has them.</summary>
    public static readonly IReadOnlyList<string> KeyMetrics =
        [MetricNames.CpuUtil, MetricNames.MemUtil, MetricNames.SwapUtil, MetricNames.GpuUtil, MetricNames.VramUtil, MetricNames.PsiCpu, MetricNames.PsiMem, MetricNames.PsiIo];

    [GeneratedRegex("gpu=\"([^\"]+)\"")]
    private static partial Regex GpuLabel();

    /// <summary>The pressure level as shown everywhere: GREEN, YELLOW, ORANGE, RED.</summary>
    public static string Pressure(PressureLevel level) => level.ToString().ToUpperInvariant();

    public static ClusterShowDto Cluster(ClusterState s) => new(s.AnsweredBy, s.Leader,
        [.. s.Members.Select(m => new MemberDto(m.Address, m.Status, [.. m.Roles], m.Reachable, m.Address == s.Leader))], [.. s.Unreachable]);

    public static OperationDto Operation(OperationDone d) => new(d.Operation, [.. d.Addresses], d.Detail);

    public static MetricDto Metric(string name, MetricEstimate e) =>
        new(name, e.Raw, e.Ema, e.Estimate, e.Trend, e.Forecast, e.ForecastStdDev, e.UpdatedAt, e.Stale);

    private static bool AllStale(HostProfile p) => p.Metrics.Count == 0 || p.Metrics.Values.All(m => m.Stale);

    public static NodeDto Node(HostProfile p, IEnumerable<SubsystemStatus> subsystems) => new(p.Host, Pressure(p.Pressure), p.At, AllStale(p),
        [.. KeyMetrics.Where(p.Metrics.ContainsKey).Select(k => Metric(k, p.Metrics[k]))],
        [.. subsystems.Where(s => s.Host == p.Host).OrderBy(s => s.Name, StringComparer.Ordinal).SelectMany(s => s.Skipped.Select(r => $"{s.Name}: {r}"))]);

    public static NodesDto Nodes(GovernorStatus s) =>
        new([.. s.Hosts.Values.OrderBy(h => h.Host, StringComparer.Ordinal).Select(h => Node(h, s.Subsystems.Values))], Database(s));

    /// <summary>
    /// One line on the database as the actuators meet it: null while every journal write succeeds; otherwise how many
    /// subsystems' writes fail, the first error, and what waits or was dropped.
    /// </summary>
    public static string? Database(GovernorStatus s)
    {
        var failing = s.Subsystems.Values.Where(x => x.JournalError is not null).OrderBy(x => x.Name, StringComparer.Ordinal).ToList();
        var overflowed = s.Subsystems.Values.Sum(x => x.JournalOverflowed);
        if (failing.Count == 0 && overflowed == 0) return null;
        var waiting = s.Subsystems.Values.Sum(x => (long)x.Unjournaled);
        var down = failing.Count == 0 ? "journal writes succeed again" :
            $"DOWN: journal writes of {failing.Count} of {s.Subsystems.Count} subsystems fail ({failing[0].Name}: {failing[0].JournalError})";
        return $"database {down}; {waiting} decisions waiting to be written, {overflowed} dropped for room; governing continues";
    }

    public static NodeDetailDto NodeDetail(HostProfile p)
    {
        var gpus = p.Metrics.Select(kv => (kv.Key, kv.Value, Gpu: GpuLabel().Match(kv.Key)))
            .Where(x => x.Gpu.Success)
            .GroupBy(x => x.Gpu.Groups[1].Value)
            .OrderBy(g => int.TryParse(g.Key, out var i) ? i : int.MaxValue).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new GpuDto(g.Key, [.. g.OrderBy(x => x.Key, StringComparer.Ordinal).Select(x => Metric(x.Key, x.Value))]));
        var hostSeries = p.Metrics.Where(kv => !GpuLabel().IsMatch(kv.Key)).OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => Metric(kv.Key, kv.Value));
        return new NodeDetailDto(p.Host, Pressure(p.Pressure), p.At, AllStale(p), [.. hostSeries], [.. gpus]);
    }

    public static SubsystemDto Subsystem(SubsystemStatus s) => new(s.Name, s.Host, s.Priority,
        new SortedDictionary<string, double>(s.Levels, StringComparer.Ordinal), s.LastSequence, s.LastAckedSequence,
        s.LastAckedSequence >= s.LastSequence, s.Reachable, [.. s.Skipped], s.Unjournaled, s.JournalError, s.JournalOverflowed,
        s.Model is { } m ? new ModelDto(m.Action, m.Intercept, m.Slope, m.Residual, m.Confidence, m.Samples, m.Confident, m.Distrusted, m.ContextK, m.Prediction, m.Headroom) : null,
        s.Ineffective is { Count: > 0 } i ? new SortedDictionary<string, string>(i, StringComparer.Ordinal) : null,
        s.DryLevels is { } dry ? new SortedDictionary<string, double>(dry, StringComparer.Ordinal) : null, s.PolicyVersion, s.DryPolicyVersion);

    public static SubsystemsDto Subsystems(GovernorStatus s) =>
        new([.. s.Subsystems.Values.OrderBy(x => x.Name, StringComparer.Ordinal).Select(Subsystem)], Database(s));

    public static PoliciesDto Policies(PolicySet p) => new(
        new PolicySettingsDto(p.Settings.Cooldown.TotalSeconds, p.Settings.RecoveryDelay.TotalSeconds, p.Settings.RecoveryStep,
            p.Settings.MinLevel, p.Settings.MaxScaleUp, [.. p.Settings.CustomActions]),
        p.Defaults,
        new SortedDictionary<string, IReadOnlyList<RuleDto>>(p.Rules.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<RuleDto>)
            [.. kv.Value.Select(r => new RuleDto(r.Metric, r.Signal, r.Direction, r.Threshold, r.Release, r.Action, r.Factor, r.Priority,
                r.Cooldown?.TotalSeconds, r.Display))]), StringComparer.Ordinal), p.Version);

    public static DecisionDto Decision(JournaledDecision j)
    {
        var d = j.Decision;
        var r = d.Reason;
        return new DecisionDto(d.At, d.Subsystem, d.Host, d.Action, d.PreviousLevel, d.Level, d.Sequence, d.Sent, d.Detail,
            new ReasonDto(r.Rule, r.Metric, r.Signal, r.Value, r.Forecast, r.Threshold, r.ToString()),
            new SortedDictionary<string, double>(d.Inputs, StringComparer.Ordinal), j.PersistenceId, j.SequenceNr, d.Dry);
    }

    public static ActionsDto Actions(DecisionPage page) => new([.. page.Decisions.Select(Decision)], [.. page.Errors]);

    public static WatchFrameDto Frame(GovernorStatus s, DateTimeOffset at) => new(at, Nodes(s).Nodes, Subsystems(s).Subsystems);

    public static ShardingDto Sharding(ShardingState s) => new([.. s.Regions
        .OrderBy(r => r.Region, StringComparer.Ordinal).ThenBy(r => r.Node, StringComparer.Ordinal)
        .Select(r => new RegionDto(r.Node, r.Region, r.Shards.Count, r.Shards.Values.Sum(e => e.Length),
            [.. r.Shards.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => new ShardDto(kv.Key, [.. kv.Value]))]))]);
}

/// <summary>One version of <c>policies history</c>, <c>apply</c> and <c>rollback</c>; <see cref="Policy"/> is the version's <c>Scarcity:Policy</c> section (canonical JSON).</summary>
public sealed record PolicyVersionDto(int Version, DateTimeOffset At, string Author, bool DryRun, int? RolledBackFrom, string Summary,
    IReadOnlyList<string> Diff, string Policy);

/// <summary><c>policies apply</c> and <c>rollback</c>: the version recorded (or, <see cref="Unchanged"/>, the current one that already is that policy).</summary>
public sealed record PolicyAppliedDto(bool Unchanged, PolicyVersionDto Version);

/// <summary><c>policies history</c>, oldest first.</summary>
public sealed record PolicyHistoryDto(int Current, IReadOnlyList<PolicyVersionDto> Versions);
