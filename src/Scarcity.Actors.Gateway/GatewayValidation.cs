using System.Globalization;
using System.Text.RegularExpressions;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Gateway.V1;

namespace Scarcity.Actors.Gateway;

/// <summary>
/// What the gateway accepts from a client, each check naming the proto field it failed on (<c>register.name</c>,
/// <c>report.values["latency_ms"]</c>): the text of the <c>INVALID_ARGUMENT</c> status a malformed message ends its
/// call with. Pure: no actor, no call.
/// </summary>
public static partial class GatewayValidation
{
    /// <summary>The longest subsystem name, in characters.</summary>
    public const int MaxNameLength = 64;

    /// <summary>The most actions one subsystem declares.</summary>
    public const int MaxActions = 32;

    /// <summary>The longest host name or free text (an ack's detail), in characters.</summary>
    public const int MaxTextLength = 1024;

    /// <summary>The most values in one metric report.</summary>
    public const int MaxReportValues = 256;

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,127}$", RegexOptions.CultureInvariant)]
    private static partial Regex MetricName();

    /// <summary>True when <paramref name="name"/> is a subsystem name (<see cref="SubsystemNames.Rule"/>): the registration actor's rule.</summary>
    public static bool IsSubsystemName(string? name) => SubsystemNames.IsValid(name);

    /// <summary>The problem with a <see cref="Register"/>, naming its field; null when it is usable.</summary>
    public static string? Check(Register register)
    {
        if (string.IsNullOrEmpty(register.Name)) return "register.name is empty (lower-case letters, digits, '_', '-', '.', 1..64 characters)";
        if (!IsSubsystemName(register.Name))
            return $"register.name '{Shorten(register.Name)}' is not a subsystem name (lower-case letters, digits, '_', '-', '.', 1..64 characters)";
        if (string.IsNullOrWhiteSpace(register.Host)) return "register.host is empty (the host the subsystem runs on, as its sensor node names it)";
        if (register.Host.Length > MaxTextLength || register.Host.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            return $"register.host '{Shorten(register.Host)}' must be at most {MaxTextLength} characters without white space";
        if (register.Actions.Count == 0) return "register.actions is empty (at least one action, e.g. reduce_batch)";
        if (register.Actions.Count > MaxActions) return $"register.actions has {register.Actions.Count} actions, at most {MaxActions}";
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < register.Actions.Count; i++)
        {
            var action = register.Actions[i];
            if (!ActionNames.IsValid(action) || action.Length > MaxNameLength)
                return $"register.actions[{i}] '{Shorten(action)}' is not an action name (lower-case letters, digits and '_', 1..{MaxNameLength} characters)";
            if (!seen.Add(action)) return $"register.actions[{i}] '{action}' is declared twice";
        }
        if (!double.IsFinite(register.LatencyObjectiveMs) || register.LatencyObjectiveMs < 0)
            return $"register.latency_objective_ms must be a finite number of milliseconds >= 0 (0: the governor's default), was {register.LatencyObjectiveMs.ToString(CultureInfo.InvariantCulture)}";
        if (register.Reports.Count > MaxReportValues) return $"register.reports has {register.Reports.Count} metrics, at most {MaxReportValues}";
        var reported = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < register.Reports.Count; i++)
        {
            if (!MetricName().IsMatch(register.Reports[i]))
                return $"register.reports[{i}] '{Shorten(register.Reports[i])}' is not a metric name (lower-case letters, digits and '_', starting with a letter or '_', at most 128 characters)";
            if (!reported.Add(register.Reports[i])) return $"register.reports[{i}] '{register.Reports[i]}' is named twice";
        }
        return null;
    }

    /// <summary>The problem with a <see cref="V1.ThrottleAck"/>, naming its field; null when it is usable. An unknown sequence is fine.</summary>
    public static string? Check(V1.ThrottleAck ack)
    {
        if (ack.Sequence < 0) return $"ack.sequence must be >= 0, was {ack.Sequence}";
        if (ack.Detail.Length > MaxTextLength) return $"ack.detail has {ack.Detail.Length} characters, at most {MaxTextLength}";
        return null;
    }

    /// <summary>The problem with a <see cref="MetricReport"/>, naming its field; null when it is usable.</summary>
    public static string? Check(MetricReport report)
    {
        if (report.Values.Count == 0) return "report.values is empty (metric name to value, e.g. latency_ms)";
        if (report.Values.Count > MaxReportValues) return $"report.values has {report.Values.Count} values, at most {MaxReportValues}";
        foreach (var (name, value) in report.Values)
        {
            if (!MetricName().IsMatch(name))
                return $"report.values[\"{Shorten(name)}\"]: not a metric name (lower-case letters, digits and '_', starting with a letter or '_', at most 128 characters)";
            if (!double.IsFinite(value)) return $"report.values[\"{name}\"] must be a finite number, was {value.ToString(CultureInfo.InvariantCulture)}";
        }
        if (report.At is { } at && (at.Seconds < -62135596800L || at.Seconds > 253402300799L || at.Nanos is < 0 or > 999_999_999))
            return $"report.at is not a valid timestamp (seconds {at.Seconds}, nanos {at.Nanos})";
        return null;
    }

    /// <summary>The problem with a <see cref="GetDecisionsRequest"/>, naming its field; null when it is usable.</summary>
    public static string? Check(GetDecisionsRequest request)
    {
        if (request.Subsystem.Length > 0 && !IsSubsystemName(request.Subsystem))
            return $"subsystem '{Shorten(request.Subsystem)}' is not a subsystem name (lower-case letters, digits, '_', '-', '.', 1..64 characters)";
        if (request.Limit is < 0 or > 1000) return $"limit must be in 0..1000 (0: 20), was {request.Limit}";
        return null;
    }

    // A client's text quoted back to it: bounded, so an error never echoes a megabyte.
    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "…";
}
