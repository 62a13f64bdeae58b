using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Scarcity.Actors.Configuration;

namespace Scarcity.Actors.Cli;

/// <summary>One problem of a policy file.</summary>
/// <param name="Key">The configuration key it is about (<c>Scarcity:Policy:Policies:*:0:Metric</c>); null when the file is not JSON.</param>
/// <param name="Message">What is wrong, without the key.</param>
/// <param name="Line">The line (from 1) of a JSON syntax error; null otherwise.</param>
public sealed record PolicyProblem(string? Key, string Message, int? Line = null)
{
    /// <summary>The problem in one line, key first: <c>Scarcity:Policy:MinLevel must be in (0, 1), was 2</c>.</summary>
    public override string ToString() => Key is null ? Message : $"{Key} {Message}";
}

/// <summary>
/// Offline check of a policy file, in any of three shapes: the Policy section alone
/// (<c>{ "Cooldown": "00:00:05", "Policies": { "*": [ ... ] } }</c>, what goes under <c>Scarcity:Policy</c>), the same
/// wrapped in <c>{ "Policy": { ... } }</c>, or a whole appsettings-style file with a <c>Scarcity</c> section (then every
/// section of it is checked). Every problem is named with its configuration key, all at once, exactly as the governor would
/// refuse it at start-up (<see cref="DRGConfig.Bind"/>).
/// </summary>
public static class PolicyFile
{
    private static readonly JsonDocumentOptions JsonOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>Every problem of <paramref name="path"/>; empty when the governor would accept it.</summary>
    /// <exception cref="CliUsageException">The file cannot be read (absent, a directory, not permitted).</exception>
    public static IReadOnlyList<PolicyProblem> Validate(string path)
    {
        var bytes = Read(path);
        try
        {
            using var document = JsonDocument.Parse(new MemoryStream(bytes), JsonOptions);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                return [new(null, $"{path}: the top level must be a JSON object ({{ ... }}), not {document.RootElement.ValueKind.ToString().ToLowerInvariant()}", 1)];
        }
        catch (JsonException e)
        {
            var line = (int)(e.LineNumber ?? 0) + 1;
            var column = (int)(e.BytePositionInLine ?? 0) + 1;
            return [new(null, $"{path}, line {line}, column {column}: not valid JSON: {JsonReason(e.Message)}", line)];
        }

        IConfigurationRoot file;
        try
        {
            file = new ConfigurationBuilder().AddJsonStream(new MemoryStream(bytes)).Build();
        }
        catch (FormatException e)
        {
            // The JSON is well-formed but the configuration reader refuses it: a key given twice (case-insensitively).
            return [new(null, $"{path}: {(e.InnerException ?? e).Message}")];
        }

        var configuration = AsScarcitySection(file);
        DRGConfig.Bind(configuration, out var errors);
        var keys = configuration.AsEnumerable().Select(kv => kv.Key).ToList();
        // In the file's order (rule by rule, indices numerically), the problems of one key in the order found.
        return [.. errors.Select(e => Split(e, keys)).OrderBy(p => p.Key ?? "", ConfigurationKeyComparer.Instance)];
    }

    /// <summary>
    /// The configuration a policy file (any of the three shapes) gives the governor, the rest at its defaults: what
    /// <c>scarcity replay</c> and <c>policies diff</c> run a candidate with.
    /// </summary>
    /// <exception cref="CliUsageException">The file cannot be read.</exception>
    /// <exception cref="CliException">The file is not valid: every problem, with its key.</exception>
    internal static DRGConfig LoadConfig(string path, string option)
    {
        IReadOnlyList<PolicyProblem> problems;
        try
        {
            problems = Validate(path);
        }
        catch (CliUsageException e)
        {
            throw new CliUsageException($"{option}: {e.Message}");
        }
        if (problems.Count > 0) throw new CliException($"{option} {path}: invalid policy: {string.Join("; ", problems)}");
        var file = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Read(path))).Build();
        return DRGConfig.Load(AsScarcitySection(file));
    }

    /// <summary>The file as the governor's configuration: as it is when it has a <c>Scarcity</c> section, else under <c>Scarcity:Policy</c>.</summary>
    private static IConfiguration AsScarcitySection(IConfigurationRoot file)
    {
        if (file.GetSection(DRGConfig.Section).Exists()) return file;
        var top = file.GetChildren().ToList();
        var prefix = top.Count == 1 && string.Equals(top[0].Key, "Policy", StringComparison.OrdinalIgnoreCase)
            ? DRGConfig.Section
            : $"{DRGConfig.Section}:Policy";
        return new ConfigurationBuilder().AddInMemoryCollection(file.AsEnumerable(makePathsRelative: true)
            .Select(kv => new KeyValuePair<string, string?>($"{prefix}:{kv.Key}", kv.Value))).Build();
    }

    private static byte[] Read(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            var reason = Directory.Exists(path) ? "it is a directory" :
                e is FileNotFoundException or DirectoryNotFoundException ? "no such file" :
                e is UnauthorizedAccessException ? "permission denied" : e.Message;
            throw new CliUsageException($"cannot read {path}: {reason}");
        }
    }

    /// <summary>The reader's message without its "Path: $.x | LineNumber: 2 | BytePositionInLine: 4." tail (the caller names line and column).</summary>
    private static string JsonReason(string message)
    {
        var cut = message.IndexOf(" Path: ", StringComparison.Ordinal);
        if (cut < 0) cut = message.IndexOf(" LineNumber: ", StringComparison.Ordinal);
        return (cut < 0 ? message : message[..cut]).Trim();
    }

    /// <summary>
    /// Splits <c>Scarcity:Policy:Policies:my engine:0:Metric 'x' is not a known metric</c> into its key and message: the key
    /// is the longest key of the file the error starts with (a subsystem name may hold a space), extended up to the next space.
    /// </summary>
    internal static PolicyProblem Split(string error, IReadOnlyCollection<string> keys)
    {
        var known = keys.Where(k => error.Length > k.Length && error.StartsWith(k, StringComparison.OrdinalIgnoreCase) && error[k.Length] is ' ' or ':')
            .MaxBy(k => k.Length);
        var space = error.IndexOf(' ', known?.Length ?? 0);
        return space <= 0 ? new PolicyProblem(null, error) : new PolicyProblem(error[..space].TrimEnd(':'), error[(space + 1)..]);
    }
}
