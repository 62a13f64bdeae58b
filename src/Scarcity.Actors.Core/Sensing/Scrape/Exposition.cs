using System.Globalization;

namespace Scarcity.Actors.Sensing.Scrape;

/// <summary>The type a <c># TYPE</c> line gives a metric family; <see cref="Untyped"/> when there is none.</summary>
public enum ExpositionType
{
    /// <summary>No <c># TYPE</c> line, or <c># TYPE name untyped</c>.</summary>
    Untyped,
    /// <summary>A monotonic counter (its samples usually end in <c>_total</c>).</summary>
    Counter,
    /// <summary>A value that goes up and down.</summary>
    Gauge,
    /// <summary>Cumulative buckets <c>name_bucket{le="..."}</c>, plus <c>name_sum</c> and <c>name_count</c>.</summary>
    Histogram,
    /// <summary>Quantiles <c>name{quantile="..."}</c>, plus <c>name_sum</c> and <c>name_count</c>.</summary>
    Summary,
}

/// <summary>One sample line of an exposition: <c>name{label="value",...} value [timestamp]</c>.</summary>
/// <param name="Name">The sample's name as written, e.g. <c>vllm:e2e_request_latency_seconds_bucket</c>.</param>
/// <param name="Labels">Its labels, values unescaped, in the order written (no two with the same name).</param>
/// <param name="Value">The value; <see cref="double.NaN"/> and the infinities as written (<c>NaN</c>, <c>+Inf</c>, <c>-Inf</c>).</param>
/// <param name="TimestampMs">The optional timestamp, milliseconds since the Unix epoch; null when the line has none.</param>
public sealed record ExpositionSample(string Name, IReadOnlyList<KeyValuePair<string, string>> Labels, double Value, long? TimestampMs)
{
    /// <summary>The value of label <paramref name="name"/>, or null when the sample does not carry it.</summary>
    public string? Label(string name)
    {
        foreach (var (key, value) in Labels)
            if (key == name) return value;
        return null;
    }
}

/// <summary>
/// A parsed Prometheus text exposition (format 0.0.4, what every <c>/metrics</c> endpoint of vLLM, TGI, Triton and the
/// exporters serves): its samples in order, and the type and help of each family that declares them.
/// </summary>
public sealed class Exposition
{
    private static readonly string[] FamilySuffixes = ["_bucket", "_sum", "_count", "_total", "_created"];

    internal Exposition(IReadOnlyList<ExpositionSample> samples, IReadOnlyDictionary<string, ExpositionType> types,
        IReadOnlyDictionary<string, string> help)
    {
        Samples = samples;
        Types = types;
        Help = help;
    }

    /// <summary>Every sample, in the order of the text.</summary>
    public IReadOnlyList<ExpositionSample> Samples { get; }

    /// <summary>The declared type of each family that has a <c># TYPE</c> line, by family name.</summary>
    public IReadOnlyDictionary<string, ExpositionType> Types { get; }

    /// <summary>The unescaped <c># HELP</c> text of each family that has one, by family name.</summary>
    public IReadOnlyDictionary<string, string> Help { get; }

    /// <summary>
    /// The type of the family a sample belongs to: <c>x_bucket</c> of a histogram <c>x</c> is <see cref="ExpositionType.Histogram"/>,
    /// <c>x_total</c> of a counter <c>x</c> (as client libraries declare it) is <see cref="ExpositionType.Counter"/>; a name
    /// without a <c># TYPE</c> line is <see cref="ExpositionType.Untyped"/>.
    /// </summary>
    public ExpositionType TypeOf(string sampleName)
    {
        if (Types.TryGetValue(sampleName, out var type)) return type;
        foreach (var suffix in FamilySuffixes)
            if (sampleName.EndsWith(suffix, StringComparison.Ordinal) &&
                Types.TryGetValue(sampleName[..^suffix.Length], out type) && type != ExpositionType.Gauge && type != ExpositionType.Untyped)
                return type;
        return ExpositionType.Untyped;
    }

    /// <summary>Parses <paramref name="text"/>; see <see cref="ExpositionParser.Parse"/>.</summary>
    public static Exposition Parse(string text) => ExpositionParser.Parse(text);
}

/// <summary>A line that is not in the text exposition format; the message names the line number and what is wrong.</summary>
public sealed class ExpositionFormatException(string message) : FormatException(message);

/// <summary>
/// The Prometheus text exposition format, version 0.0.4
/// (https://prometheus.io/docs/instrumenting/exposition_formats/): lines end in <c>\n</c> (a <c>\r</c> before it is
/// dropped); a line starting with <c>#</c> is a comment unless its first token is <c>HELP</c> or <c>TYPE</c>; a sample is a
/// metric name (<c>[a-zA-Z_:][a-zA-Z0-9_:]*</c>), optional labels in braces (values in double quotes with the escapes
/// <c>\\</c>, <c>\"</c> and <c>\n</c>, a trailing comma allowed), a value (a float, <c>NaN</c>, <c>+Inf</c>, <c>-Inf</c>)
/// and an optional timestamp (integer milliseconds). Like Prometheus it rejects the whole text at the first bad line:
/// a reading half understood is not a reading.
/// </summary>
public static class ExpositionParser
{
    /// <summary>Parses a whole exposition.</summary>
    /// <exception cref="ExpositionFormatException">A line is malformed; the message says which and why.</exception>
    public static Exposition Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var samples = new List<ExpositionSample>();
        var types = new Dictionary<string, ExpositionType>(StringComparer.Ordinal);
        var help = new Dictionary<string, string>(StringComparer.Ordinal);
        var lineNumber = 0;
        foreach (var raw in text.AsSpan().EnumerateLines())
        {
            lineNumber++;
            var line = raw.TrimEnd('\r');
            var body = line.TrimStart([' ', '\t']);
            if (body.IsEmpty) continue;
            var reader = new LineReader(line.ToString(), lineNumber);
            if (body[0] == '#') reader.ReadComment(types, help);
            else samples.Add(reader.ReadSample());
        }
        return new Exposition(samples, types, help);
    }

    private sealed class LineReader(string line, int number)
    {
        private int _pos;

        public void ReadComment(Dictionary<string, ExpositionType> types, Dictionary<string, string> help)
        {
            SkipBlanks();
            _pos++; // '#'
            SkipBlanks();
            var keyword = ReadToken();
            if (keyword is not ("HELP" or "TYPE")) return; // any other comment
            if (!SkipBlanks()) return; // "# HELP" alone is a comment too
            var name = ReadName("metric name");
            if (keyword == "TYPE")
            {
                if (!SkipBlanks()) throw Error($"# TYPE {name} has no type");
                var word = ReadToken();
                ExpositionType type = word switch
                {
                    "counter" => ExpositionType.Counter,
                    "gauge" => ExpositionType.Gauge,
                    "histogram" => ExpositionType.Histogram,
                    "summary" => ExpositionType.Summary,
                    "untyped" => ExpositionType.Untyped,
                    _ => throw Error($"'{word}' is not a metric type (counter, gauge, histogram, summary, untyped)"),
                };
                SkipBlanks();
                if (_pos < line.Length) throw Error($"unexpected '{line[_pos..]}' after the type of {name}");
                if (!types.TryAdd(name, type)) throw Error($"a second # TYPE line for {name}");
                return;
            }
            // The docstring runs to the end of the line; \\ and \n are its only escapes.
            var text = _pos < line.Length && (line[_pos] == ' ' || line[_pos] == '\t') ? line[(_pos + 1)..] : line[_pos..];
            if (!help.TryAdd(name, UnescapeHelp(text))) throw Error($"a second # HELP line for {name}");
        }

        public ExpositionSample ReadSample()
        {
            SkipBlanks();
            var name = ReadName("metric name");
            var labels = _pos < line.Length && line[_pos] == '{' ? ReadLabels(name) : [];
            if (!SkipBlanks()) throw Error(_pos >= line.Length ? $"{name} has no value" : $"unexpected '{line[_pos]}' after {name}");
            var valueText = ReadToken();
            var value = ParseValue(valueText) ?? throw Error($"'{valueText}' is not a value of {name} (a float, NaN, +Inf or -Inf)");
            long? timestamp = null;
            // An OpenMetrics exemplar (" # {trace_id=...} 0.5"), from a server that answers in that format anyway, is skipped.
            if (SkipBlanks() && line[_pos] != '#')
            {
                var stampText = ReadToken();
                if (!long.TryParse(stampText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var stamp))
                    throw Error($"'{stampText}' is not a timestamp of {name} (integer milliseconds since the epoch)");
                timestamp = stamp;
                SkipBlanks();
                if (_pos < line.Length && line[_pos] != '#') throw Error($"unexpected '{line[_pos..]}' after the timestamp of {name}");
            }
            return new ExpositionSample(name, labels, value, timestamp);
        }

        private List<KeyValuePair<string, string>> ReadLabels(string metric)
        {
            var labels = new List<KeyValuePair<string, string>>();
            _pos++; // '{'
            while (true)
            {
                SkipBlanks();
                if (_pos >= line.Length) throw Error($"the labels of {metric} are not closed with '}}'");
                if (line[_pos] == '}')
                {
                    _pos++;
                    return labels;
                }
                var label = ReadName("label name", allowColon: false);
                SkipBlanks();
                if (_pos >= line.Length || line[_pos] != '=') throw Error($"label {label} of {metric} has no '='");
                _pos++;
                SkipBlanks();
                if (_pos >= line.Length || line[_pos] != '"') throw Error($"the value of label {label} of {metric} is not in double quotes");
                var value = ReadQuoted(label, metric);
                if (labels.Exists(l => l.Key == label)) throw Error($"label {label} appears twice in {metric}");
                labels.Add(new(label, value));
                SkipBlanks();
                if (_pos < line.Length && line[_pos] == ',') _pos++;
                else if (_pos < line.Length && line[_pos] != '}') throw Error($"expected ',' or '}}' after label {label} of {metric}, found '{line[_pos]}'");
            }
        }

        private string ReadQuoted(string label, string metric)
        {
            _pos++; // opening quote
            var value = new System.Text.StringBuilder();
            while (true)
            {
                if (_pos >= line.Length) throw Error($"the value of label {label} of {metric} has no closing quote");
                var c = line[_pos++];
                if (c == '"') return value.ToString();
                if (c != '\\')
                {
                    value.Append(c);
                    continue;
                }
                if (_pos >= line.Length) throw Error($"the value of label {label} of {metric} ends in a lone backslash");
                var escaped = line[_pos++];
                value.Append(escaped switch
                {
                    '\\' => '\\',
                    '"' => '"',
                    'n' => '\n',
                    _ => throw Error($"'\\{escaped}' in the value of label {label} of {metric} is not an escape (\\\\, \\\" or \\n)"),
                });
            }
        }

        private string ReadName(string what, bool allowColon = true)
        {
            var start = _pos;
            while (_pos < line.Length && IsNameChar(line[_pos], _pos == start, allowColon)) _pos++;
            if (_pos == start)
                throw Error(_pos < line.Length ? $"'{line[_pos]}' cannot start a {what}" : $"a {what} is missing");
            return line[start.._pos];
        }

        private static bool IsNameChar(char c, bool first, bool allowColon) =>
            c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_' || (allowColon && c == ':') || (!first && c is >= '0' and <= '9');

        private string ReadToken()
        {
            var start = _pos;
            while (_pos < line.Length && line[_pos] != ' ' && line[_pos] != '\t') _pos++;
            return line[start.._pos];
        }

        /// <summary>Skips spaces and tabs; true when something follows them.</summary>
        private bool SkipBlanks()
        {
            var start = _pos;
            while (_pos < line.Length && (line[_pos] == ' ' || line[_pos] == '\t')) _pos++;
            return _pos > start && _pos < line.Length;
        }

        private ExpositionFormatException Error(string what) => new($"line {number}: {what}: {Shorten(line)}");

        private static string Shorten(string s) => s.Length <= 120 ? s : s[..117] + "...";
    }

    /// <summary>A sample value as Go's ParseFloat reads it: a float, or <c>NaN</c>, <c>Inf</c>, <c>+Inf</c>, <c>-Inf</c> in any case.</summary>
    internal static double? ParseValue(string text)
    {
        if (text.Equals("NaN", StringComparison.OrdinalIgnoreCase)) return double.NaN;
        if (text.Equals("+Inf", StringComparison.OrdinalIgnoreCase) || text.Equals("Inf", StringComparison.OrdinalIgnoreCase))
            return double.PositiveInfinity;
        if (text.Equals("-Inf", StringComparison.OrdinalIgnoreCase)) return double.NegativeInfinity;
        // Digits, a sign, a point, an exponent: no thousands separators, no white space, no hex.
        foreach (var c in text)
            if (c is not ((>= '0' and <= '9') or '+' or '-' or '.' or 'e' or 'E')) return null;
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null;
    }

    private static string UnescapeHelp(string text)
    {
        if (!text.Contains('\\')) return text;
        var s = new System.Text.StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 1 < text.Length && text[i + 1] is '\\' or 'n')
            {
                s.Append(text[++i] == 'n' ? '\n' : '\\');
                continue;
            }
            s.Append(text[i]);
        }
        return s.ToString();
    }
}
