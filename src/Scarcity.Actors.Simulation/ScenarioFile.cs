using System.Globalization;

namespace Scarcity.Actors.Simulation;

/// <summary>A scenario file that cannot be read or does not follow the format; the message names file:line.</summary>
public sealed class ScenarioFileException(string message, string path, int? line) : Exception(message)
{
    /// <summary>The file.</summary>
    public string Path { get; } = path;

    /// <summary>The line (from 1) at fault; null when the file could not be read at all.</summary>
    public int? Line { get; } = line;
}

/// <summary>
/// Reads a scenario file (shared/ENGINE-MODEL.md): CSV with the header <c>t_seconds,arrivals,context_k</c> and one row
/// per step of <see cref="InferenceEngineModel.Dt"/> (<c>t_seconds</c> = 0, 0.25, 0.5, ...), the inputs of that step.
/// Blank lines are ignored.
/// </summary>
public static class ScenarioFile
{
    /// <summary>The header a scenario file starts with.</summary>
    public const string Header = "t_seconds,arrivals,context_k";

    /// <summary>Reads <paramref name="path"/>; the scenario is named after the file, without its extension.</summary>
    /// <exception cref="ScenarioFileException">The file cannot be read, or a line is malformed (its message names file:line).</exception>
    public static Scenario Load(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            var reason = Directory.Exists(path) ? "it is a directory" :
                e is FileNotFoundException or DirectoryNotFoundException ? "no such file" :
                e is UnauthorizedAccessException ? "permission denied" : e.Message;
            throw new ScenarioFileException($"{path}: cannot read: {reason}", path, null);
        }

        return Parse(System.IO.Path.GetFileNameWithoutExtension(path), path, lines);
    }

    /// <summary>Parses the lines of a scenario file; <paramref name="path"/> names it in errors.</summary>
    /// <exception cref="ScenarioFileException">A line is malformed.</exception>
    public static Scenario Parse(string name, string path, IReadOnlyList<string> lines)
    {
        var inputs = new List<ScenarioInput>();
        var headerSeen = false;
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0) continue;
            ScenarioFileException Bad(string why) => new($"{path}:{i + 1}: {why}", path, i + 1);
            if (!headerSeen)
            {
                if (!string.Equals(string.Join(',', line.Split(',').Select(c => c.Trim())), Header, StringComparison.Ordinal))
                    throw Bad($"the header must be '{Header}', was '{line}'");
                headerSeen = true;
                continue;
            }

            var cells = line.Split(',');
            if (cells.Length != 3) throw Bad($"expected 3 values (t_seconds,arrivals,context_k), found {cells.Length}");
            var t = Number(cells[0], "t_seconds");
            var arrivals = Number(cells[1], "arrivals");
            var contextK = Number(cells[2], "context_k");
            var expected = inputs.Count * InferenceEngineModel.Dt;
            if (Math.Abs(t - expected) > 1e-6)
                throw Bad(FormattableString.Invariant($"t_seconds must be {expected} (one row per step of {InferenceEngineModel.Dt} s from 0), was {t}"));
            if (arrivals < 0) throw Bad(FormattableString.Invariant($"arrivals must not be negative, was {arrivals}"));
            if (contextK < 0) throw Bad(FormattableString.Invariant($"context_k must not be negative, was {contextK}"));
            inputs.Add(new ScenarioInput(arrivals, contextK));

            double Number(string cell, string column) =>
                double.TryParse(cell.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v)
                    ? v
                    : throw Bad($"{column} '{cell.Trim()}' is not a finite number");
        }

        if (!headerSeen) throw new ScenarioFileException($"{path}:1: empty file; expected the header '{Header}'", path, 1);
        if (inputs.Count == 0) throw new ScenarioFileException($"{path}:{lines.Count}: no rows after the header", path, lines.Count);
        return FromSteps(name, inputs);
    }

    /// <summary>A scenario of one input per step of <see cref="InferenceEngineModel.Dt"/>.</summary>
    public static Scenario FromSteps(string name, IReadOnlyList<ScenarioInput> steps)
    {
        ArgumentNullException.ThrowIfNull(steps);
        if (steps.Count == 0) throw new ArgumentException("a scenario needs at least one step", nameof(steps));
        var copy = steps.ToArray();
        return new Scenario(name, TimeSpan.FromSeconds(copy.Length * InferenceEngineModel.Dt),
            t => copy[Math.Clamp((int)Math.Round(t / InferenceEngineModel.Dt), 0, copy.Length - 1)]);
    }

    /// <summary>Writes <paramref name="scenario"/> as a scenario file: the input of each of its steps.</summary>
    public static void Write(Scenario scenario, TextWriter writer)
    {
        writer.WriteLine(Header);
        for (var i = 0; i < scenario.Steps; i++)
        {
            var t = i * InferenceEngineModel.Dt;
            var input = scenario.At(t);
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{t},{input.Arrivals:0.####},{input.ContextK:0.####}"));
        }
    }
}
