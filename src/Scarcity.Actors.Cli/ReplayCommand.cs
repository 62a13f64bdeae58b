using System.Collections.Immutable;
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Replay;
using Scarcity.Actors.Sensing;

namespace Scarcity.Actors.Cli;

/// <summary>One decision in <c>replay --json</c> and <c>policies diff --live --json</c>.</summary>
/// <param name="At">The profile's time.</param>
/// <param name="Subsystem">The subsystem.</param>
/// <param name="Host">Its host.</param>
/// <param name="Action">The action.</param>
/// <param name="PreviousLevel">Level before.</param>
/// <param name="Level">Level after.</param>
/// <param name="Reason">The rule (or recovery) in one line.</param>
public sealed record ReplayDecisionDto(DateTimeOffset At, string Subsystem, string Host, string Action, double PreviousLevel, double Level, string Reason);

/// <summary>Where live and candidate first part ways for one subsystem: the n-th decision of each (either may be null: none).</summary>
/// <param name="Index">Position (from 0) in the subsystem's decisions.</param>
/// <param name="Live">The live decision there.</param>
/// <param name="Candidate">The candidate's there.</param>
public sealed record DecisionDifferenceDto(int Index, ReplayDecisionDto? Live, ReplayDecisionDto? Candidate);

/// <summary>One subsystem side by side.</summary>
/// <param name="Subsystem">The subsystem.</param>
/// <param name="Live">Decisions the live policy took (journal).</param>
/// <param name="Candidate">Decisions the candidate took on the same telemetry.</param>
/// <param name="Same">Decisions equal on both sides (same position, action, level and time).</param>
/// <param name="FirstDifferences">The first (at most 5) positions where they differ.</param>
public sealed record SubsystemComparisonDto(string Subsystem, int Live, int Candidate, int Same, IReadOnlyList<DecisionDifferenceDto> FirstDifferences);

/// <summary>What <c>scarcity replay --json</c> and <c>scarcity policies diff --live --json</c> print.</summary>
/// <param name="From">Start of the window.</param>
/// <param name="To">End of the window.</param>
/// <param name="Host">The host asked for, or null for all.</param>
/// <param name="Config">The candidate file, or <c>defaults</c>.</param>
/// <param name="Source">Where the telemetry came from: member addresses, or the trace file.</param>
/// <param name="Records">Records replayed.</param>
/// <param name="Candidate">The candidate's decisions, time order.</param>
/// <param name="Live">The live decisions from the journal in the window (empty for a trace).</param>
/// <param name="Subsystems">Per subsystem: counts and first differences.</param>
/// <param name="Notes">What the answer lacks: members that do not record, unread tails, a live page cut at its limit.</param>
/// <param name="Plot">The PNG written, or null.</param>
public sealed record ReplayReportDto(
    DateTimeOffset From, DateTimeOffset To, string? Host, string Config, IReadOnlyList<string> Source, long Records,
    IReadOnlyList<ReplayDecisionDto> Candidate, IReadOnlyList<ReplayDecisionDto> Live, IReadOnlyList<SubsystemComparisonDto> Subsystems,
    IReadOnlyList<string> Notes, string? Plot);

/// <summary>
/// <c>scarcity replay</c> and <c>scarcity policies diff --live</c>: the CLI pages through every governor node's recording
/// (<see cref="GetRecording"/> to <see cref="ServicePaths.TelemetryRecorder"/>, node by node, at most
/// <see cref="PageRecords"/> records a page), runs it through the candidate with the core's <see cref="RecordedReplay"/>
/// (the classes the actors run, no actor system) and sets the decisions beside the journal's (<see cref="GetDecisions"/>).
/// </summary>
internal static class ReplayCommand
{
    /// <summary>Records asked for per page.</summary>
    public const int PageRecords = 2000;

    /// <summary>The most live decisions read from the journal for one window.</summary>
    public const int LiveLimit = 100_000;

    /// <summary>The subsystem a trace is replayed for when <c>--subsystem</c> is not given.</summary>
    public const string TraceSubsystem = "trace_engine";

    private static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Runs a command against a connected governor (the root's <c>--contact</c>, TLS and timeout).</summary>
    public delegate Task<int> Connect(ParseResult p, CancellationToken ct, Func<GovernorConnection, Task<int>> command);

    private sealed record Window(DateTimeOffset From, DateTimeOffset To);

    /// <summary><c>scarcity replay</c>.</summary>
    public static Command Create(Option<bool> json, TextWriter stdout, Connect connect)
    {
        var from = new Option<string>("--from") { Description = "Start: an ISO 8601 time (2026-12-01T01:00:00Z) or relative to now (-1h, -30m, -90s, -2d)", DefaultValueFactory = _ => "-1h" };
        var to = new Option<string>("--to") { Description = "End: an ISO 8601 time or relative to now (-5m); default now", DefaultValueFactory = _ => "now" };
        var host = new Option<string>("--host") { Description = "Only this host's telemetry (and its subsystems)" };
        var config = new Option<string>("--config") { Description = "The candidate: a policy file (the Policy section, { \"Policy\": ... } or a whole configuration); default: the governor's defaults" };
        var plot = new Option<string>("--plot") { Description = "Write a PNG: the series the rules read, the candidate's levels and the live levels" };
        var trace = new Option<string>("--trace") { Description = "Replay a trace file (tests/traces format) offline instead of the recordings; no governor needed" };
        var subsystem = new Option<string>("--subsystem") { Description = $"With --trace: the subsystem governed on the trace's host (default {TraceSubsystem})" };
        var command = new Command("replay", "Run recorded telemetry through a candidate policy, faster than real time, beside the decisions actually taken")
        {
            from, to, host, config, plot, trace, subsystem,
        };
        command.SetAction((p, ct) =>
        {
            var candidate = Candidate(p.GetValue(config));
            if (p.GetValue(trace) is { } file)
            {
                if (p.GetResult(from) is { Implicit: false } || p.GetResult(to) is { Implicit: false })
                    throw new CliUsageException("--from and --to select recorded telemetry; a --trace is replayed whole");
                return Task.FromResult(Trace(p.GetValue(json), stdout, file, candidate, p.GetValue(config), p.GetValue(subsystem) ?? TraceSubsystem, p.GetValue(plot)));
            }
            var window = Parse(p.GetValue(from)!, p.GetValue(to)!);
            return connect(p, ct, c => Live(c, p.GetValue(json), stdout, window, p.GetValue(host), candidate, p.GetValue(config), p.GetValue(plot), diff: false, ct));
        });
        return command;
    }

    /// <summary><c>scarcity policies diff --live &lt;file&gt;</c>.</summary>
    public static Command CreateDiff(Option<bool> json, TextWriter stdout, Connect connect)
    {
        var file = new Argument<string>("file") { Description = "The candidate policy file" };
        var live = new Option<bool>("--live") { Description = "Compare with what the live policy did (the journal), on the recorded telemetry" };
        var from = new Option<string>("--from") { Description = "Start (ISO 8601 or relative, -1h)", DefaultValueFactory = _ => "-1h" };
        var to = new Option<string>("--to") { Description = "End (ISO 8601 or relative); default now", DefaultValueFactory = _ => "now" };
        var host = new Option<string>("--host") { Description = "Only this host" };
        var command = new Command("diff", "Side by side per subsystem: what the live policy did and what the candidate would have done (last hour by default)")
        {
            file, live, from, to, host,
        };
        command.SetAction((p, ct) =>
        {
            if (!p.GetValue(live)) throw new CliUsageException("policies diff needs --live (it compares the candidate with the live decisions)");
            var path = p.GetValue(file)!;
            var candidate = Candidate(path);
            var window = Parse(p.GetValue(from)!, p.GetValue(to)!);
            return connect(p, ct, c => Live(c, p.GetValue(json), stdout, window, p.GetValue(host), candidate, path, plot: null, diff: true, ct));
        });
        return command;
    }

    private static DRGConfig Candidate(string? path) => path is null ? new DRGConfig() : PolicyFile.LoadConfig(path, "--config");

    private static Window Parse(string from, string to)
    {
        var now = DateTimeOffset.UtcNow;
        var start = Time(from, "--from", now);
        var end = Time(to, "--to", now);
        if (end <= start) throw new CliUsageException($"--to ({end:O}) must be after --from ({start:O})");
        return new Window(start, end);
    }

    /// <summary>An ISO 8601 time, <c>now</c>, or an offset from now: <c>-1h</c>, <c>-30m</c>, <c>-90s</c>, <c>-2d</c>.</summary>
    internal static DateTimeOffset Time(string text, string option, DateTimeOffset now)
    {
        var t = text.Trim();
        if (t.Equals("now", StringComparison.OrdinalIgnoreCase)) return now;
        if (t.Length >= 3 && t[0] == '-' && "smhd".Contains(t[^1])
            && double.TryParse(t[1..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) && amount >= 0 && double.IsFinite(amount))
            return now - t[^1] switch
            {
                's' => TimeSpan.FromSeconds(amount),
                'm' => TimeSpan.FromMinutes(amount),
                'h' => TimeSpan.FromHours(amount),
                _ => TimeSpan.FromDays(amount),
            };
        if (DateTimeOffset.TryParse(t, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)) return at;
        throw new CliUsageException($"{option} '{text}' is neither an ISO 8601 time (2026-12-01T01:00:00Z) nor relative to now (-1h, -30m, -90s, -2d, now)");
    }

    private static async Task<int> Live(
        GovernorConnection c, bool json, TextWriter stdout, Window window, string? host, DRGConfig candidate, string? configPath, string? plot, bool diff,
        CancellationToken ct)
    {
        var state = await c.AskAsync<ClusterState>(ServicePaths.Operations, GetClusterState.Instance, ct);
        var governors = state.Members.Where(m => m.Roles.Contains("governor") && m.Status == "Up").Select(m => m.Address).ToList();
        if (governors.Count == 0) throw new CliException("no governor member is Up to read recordings from");

        var records = new List<TelemetryRecord>();
        var notes = new List<string>();
        var recording = new List<string>();
        foreach (var node in governors)
        {
            string? cursor = null;
            do
            {
                var page = await c.AskAsync<RecordingPage>(ServicePaths.TelemetryRecorder,
                    new GetRecording(window.From, window.To, host, cursor, PageRecords, node), ct);
                if (!page.Enabled)
                {
                    notes.Add($"{node} does not record (Scarcity:Recording:Enabled is false there)");
                    break;
                }
                if (cursor is null) recording.Add(node);
                records.AddRange(page.Records);
                cursor = page.NextCursor;
            } while (cursor is not null);
        }
        if (recording.Count == 0)
            throw new CliException($"no governor node records telemetry: set Scarcity:Recording:Enabled = true on them ({string.Join("; ", notes)})");

        // Per host, in time order (a host's records come from the node that profiled it then; after a failover, two).
        var ordered = records.OrderBy(r => r.At).ToList();
        var (result, readings) = Replay(ordered, candidate);

        var journal = await c.AskAsync<DecisionPage>(ServicePaths.Operations, new GetDecisions(window.From, null, LiveLimit), ct);
        if (journal.Decisions.Length >= LiveLimit) notes.Add($"more than {LiveLimit} live decisions in the window: only the newest {LiveLimit} are compared");
        notes.AddRange(journal.Errors.Select(e => $"journal incomplete: {e}"));
        var live = journal.Decisions.Select(j => j.Decision)
            .Where(d => d.At <= window.To && (host is null || d.Host == host))
            .Select(Dto).ToList();

        var report = Report(window, host, configPath, recording, result, live, notes, plot);
        if (plot is not null) SavePlot(plot, report, readings, candidate, window.From);
        Print(json, stdout, report, diff);
        return ExitCodes.Ok;
    }

    private static int Trace(bool json, TextWriter stdout, string file, DRGConfig candidate, string? configPath, string subsystem, string? plot)
    {
        TraceSensorSource source;
        try
        {
            source = new TraceSensorSource(file);
        }
        catch (TraceFormatException e)
        {
            throw new CliException(e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliUsageException($"--trace: cannot read {file}: {e.Message}");
        }
        var epoch = new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
        const string host = "trace";
        var actions = candidate.Policy.RulesFor(subsystem).Select(r => r.Action).Distinct(StringComparer.Ordinal).ToImmutableArray();
        var records = new List<TelemetryRecord> { TelemetryRecord.Of(new RegisterSubsystem(subsystem, host, 1, actions, Akka.Actor.ActorRefs.Nobody), epoch) };
        var buffer = new MetricBuffer();
        using (source)
        {
            while (source.HasMore)
            {
                var at = epoch + source.NextOffset;
                buffer.Clear();
                source.Sample(buffer, at);
                records.Add(TelemetryRecord.Of(new Sample(host, at, [.. buffer.Values], [])));
            }
        }
        var end = records[^1].At;
        var (result, readings) = Replay(records, candidate);
        var report = Report(new Window(epoch, end), host, configPath, [file], result, [], [], plot);
        if (plot is not null) SavePlot(plot, report, readings, candidate, epoch);
        Print(json, stdout, report, diff: false);
        return ExitCodes.Ok;
    }

    private static (ReplayResult Result, List<ReplayReading> Readings) Replay(IEnumerable<TelemetryRecord> records, DRGConfig candidate)
    {
        var readings = new List<ReplayReading>();
        var replay = new RecordedReplay(candidate) { OnReading = readings.Add };
        foreach (var r in records) replay.Apply(r);
        return (replay.Result(), readings);
    }

    private static ReplayDecisionDto Dto(Decision d) => new(d.At, d.Subsystem, d.Host, d.Action, d.PreviousLevel, d.Level, d.Reason.ToString());

    private static ReplayDecisionDto Dto(ReplayDecision d) => new(d.At, d.Subsystem, d.Host, d.Action, d.PreviousLevel, d.Level, d.Reason.ToString());

    private static ReplayReportDto Report(
        Window window, string? host, string? configPath, IReadOnlyList<string> source, ReplayResult result, IReadOnlyList<ReplayDecisionDto> live,
        IReadOnlyList<string> notes, string? plot)
    {
        var candidate = result.Decisions.Select(Dto).ToList();
        var subsystems = candidate.Select(d => d.Subsystem).Concat(live.Select(d => d.Subsystem)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)
            .Select(s => Compare(s, live.Where(d => d.Subsystem == s).OrderBy(d => d.At).ToList(), candidate.Where(d => d.Subsystem == s).ToList()))
            .ToList();
        return new ReplayReportDto(window.From, window.To, host, configPath ?? "defaults", source, result.Records, candidate, live, subsystems, notes, plot);
    }

    /// <summary>Counts and the first differences of one subsystem's decisions, position by position.</summary>
    internal static SubsystemComparisonDto Compare(string subsystem, IReadOnlyList<ReplayDecisionDto> live, IReadOnlyList<ReplayDecisionDto> candidate)
    {
        var same = 0;
        var differences = new List<DecisionDifferenceDto>();
        for (var i = 0; i < Math.Max(live.Count, candidate.Count); i++)
        {
            var l = i < live.Count ? live[i] : null;
            var c = i < candidate.Count ? candidate[i] : null;
            if (l is not null && c is not null && l.Action == c.Action && Math.Abs(l.Level - c.Level) < 1e-9 && l.At == c.At) same++;
            else if (differences.Count < 5) differences.Add(new DecisionDifferenceDto(i, l, c));
        }
        return new SubsystemComparisonDto(subsystem, live.Count, candidate.Count, same, differences);
    }

    private static string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);

    private static string Step(ReplayDecisionDto? d) => d is null ? "-" : $"{d.Action} {F(d.PreviousLevel)} -> {F(d.Level)}";

    private static string Time(ReplayDecisionDto? d) => d is null ? "" : d.At.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture);

    private static void Print(bool json, TextWriter stdout, ReplayReportDto report, bool diff)
    {
        if (json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(report, Indented));
            stdout.Flush();
            return;
        }
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{(diff ? "policies diff --live" : "replay")} {report.Config}: {report.From:yyyy-MM-dd HH:mm:ss} .. {report.To:yyyy-MM-dd HH:mm:ss} UTC, host {report.Host ?? "all"}; {report.Records} records from {string.Join(", ", report.Source)}"));
        foreach (var note in report.Notes) stdout.WriteLine($"note: {note}");
        if (!diff)
        {
            // Every decision of either side, in time order; a decision both took is one line.
            stdout.WriteLine($"{"time (UTC)",-23} {"subsystem",-18} {"live",-28} {"candidate",-28} reason (candidate, else live)");
            var rows = report.Candidate.Select(c => (At: c.At, c.Subsystem, Live: (ReplayDecisionDto?)null, Candidate: (ReplayDecisionDto?)c)).ToList();
            foreach (var l in report.Live)
            {
                var match = rows.FindIndex(r => r.Live is null && r.Candidate is { } c && c.Subsystem == l.Subsystem && c.Action == l.Action && c.At == l.At && Math.Abs(c.Level - l.Level) < 1e-9);
                if (match >= 0) rows[match] = rows[match] with { Live = l };
                else rows.Add((l.At, l.Subsystem, l, null));
            }
            foreach (var r in rows.OrderBy(r => r.At))
                stdout.WriteLine($"{Time(r.Candidate ?? r.Live),-23} {r.Subsystem,-18} {Step(r.Live),-28} {Step(r.Candidate),-28} {(r.Candidate ?? r.Live)!.Reason}");
            if (rows.Count == 0) stdout.WriteLine("no decision on either side");
        }
        var trace = report.Live.Count == 0 && report.Notes.Count == 0 && report.Source.All(File.Exists);
        foreach (var s in report.Subsystems)
        {
            if (trace)
            {
                stdout.WriteLine($"{s.Subsystem}: candidate {s.Candidate} decision(s) (a trace has no live decisions)");
                continue;
            }
            stdout.WriteLine($"{s.Subsystem}: live {s.Live} decision(s), candidate {s.Candidate}, {s.Same} the same" +
                             (s.FirstDifferences.Count == 0 ? "" : "; first differences:"));
            foreach (var d in s.FirstDifferences)
                stdout.WriteLine($"  #{d.Index + 1,-4} live {Time(d.Live),-23} {Step(d.Live),-28} | candidate {Time(d.Candidate),-23} {Step(d.Candidate)}");
        }
        if (report.Subsystems.Count == 0) stdout.WriteLine("no subsystem decided anything in the window");
        if (report.Plot is not null) stdout.WriteLine($"plot: {report.Plot}");
        stdout.Flush();
    }

    private static void SavePlot(string path, ReplayReportDto report, IReadOnlyList<ReplayReading> readings, DRGConfig candidate, DateTimeOffset origin)
    {
        try
        {
            ReplayPlot.Save(path, report, readings, candidate, origin);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DirectoryNotFoundException)
        {
            throw new CliException($"--plot: cannot write {path}: {e.Message}");
        }
    }
}
