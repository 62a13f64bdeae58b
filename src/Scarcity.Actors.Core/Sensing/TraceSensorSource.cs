using System.Globalization;
using Scarcity.Actors.Contracts;

namespace Scarcity.Actors.Sensing;

/// <summary>
/// Replays a recorded trace: a CSV <c>t_seconds,metric,value</c> with that header line and rows grouped by time,
/// ascending. Each <see cref="Sample"/> emits every row of the next time and ignores the clock: the SensorActor reads
/// <see cref="NextOffset"/> to know when that reading belongs. The whole file is parsed up front, so a bad trace fails at
/// start-up with its file and line.
/// </summary>
public sealed class TraceSensorSource : IClockedSensorSource
{
    private const string Header = "t_seconds,metric,value";

    private readonly MetricValue[] _rows;
    private readonly TimeSpan[] _offsets; // per group
    private readonly int[] _groupStart; // per group, plus one past the end
    private int _next;

    /// <summary>Loads and checks the trace at <paramref name="path"/>.</summary>
    /// <exception cref="TraceFormatException">A line is malformed; the message names the file and line.</exception>
    public TraceSensorSource(string path)
        : this(File.OpenText(path), Path.GetFileName(path))
    {
    }

    /// <summary>Loads and checks a trace from <paramref name="reader"/> (disposed), naming it <paramref name="fileName"/> in errors.</summary>
    /// <exception cref="TraceFormatException">A line is malformed; the message names the file and line.</exception>
    public TraceSensorSource(TextReader reader, string fileName)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentException.ThrowIfNullOrEmpty(fileName);
        FileName = fileName;
        Name = "trace:" + fileName;
        using (reader) (_rows, _offsets, _groupStart) = Parse(reader, fileName);
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The trace's file name, as errors name it.</summary>
    public string FileName { get; }

    /// <summary>How many readings (distinct times) the trace holds.</summary>
    public int ReadingCount => _offsets.Length;

    /// <inheritdoc />
    public bool HasMore => _next < _offsets.Length;

    /// <summary>The time of the reading the next <see cref="Sample"/> emits; once the trace is done, the time of its last one.</summary>
    public TimeSpan NextOffset =>
        _offsets.Length == 0 ? TimeSpan.Zero : _offsets[Math.Min(_next, _offsets.Length - 1)];

    /// <summary>Emits every row of the next time; nothing once the trace is done.</summary>
    public void Sample(MetricBuffer buffer, DateTimeOffset now)
    {
        if (!HasMore) return;
        for (var i = _groupStart[_next]; i < _groupStart[_next + 1]; i++) buffer.Add(_rows[i].Metric, _rows[i].Value);
        _next++;
    }

    /// <summary>Starts the replay again from its first reading.</summary>
    public void Rewind() => _next = 0;

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private static (MetricValue[] Rows, TimeSpan[] Offsets, int[] GroupStart) Parse(TextReader reader, string file)
    {
        var rows = new List<MetricValue>();
        var offsets = new List<TimeSpan>();
        var groupStart = new List<int>();
        var names = new Dictionary<string, string>(StringComparer.Ordinal); // one string per series, shared by all rows
        var lineNumber = 0;
        var lastT = double.NegativeInfinity;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            if (lineNumber == 1)
            {
                if (line.Trim().TrimStart('\uFEFF') != Header)
                    throw new TraceFormatException(file, lineNumber, $"expected the header '{Header}', got '{line}'");
                continue;
            }
            if (string.IsNullOrWhiteSpace(line)) continue;
            var parts = line.Split(',');
            if (parts.Length != 3)
                throw new TraceFormatException(file, lineNumber, $"expected 3 columns ({Header}), got {parts.Length}");
            var tText = parts[0].Trim();
            var metric = parts[1].Trim();
            var valueText = parts[2].Trim();
            if (!double.TryParse(tText, NumberStyles.Float, CultureInfo.InvariantCulture, out var t) || !double.IsFinite(t))
                throw new TraceFormatException(file, lineNumber, $"t_seconds '{tText}' is not a number");
            if (t < 0) throw new TraceFormatException(file, lineNumber, $"t_seconds {tText} is negative");
            if (metric.Length == 0) throw new TraceFormatException(file, lineNumber, "metric is empty");
            if (!double.TryParse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
                throw new TraceFormatException(file, lineNumber, $"value '{valueText}' is not a number");
            if (t < lastT)
                throw new TraceFormatException(file, lineNumber,
                    $"t_seconds {tText} comes after {lastT.ToString(CultureInfo.InvariantCulture)}: rows must be grouped by time, ascending");
            if (t > lastT)
            {
                offsets.Add(TimeSpan.FromSeconds(t));
                groupStart.Add(rows.Count);
                lastT = t;
            }
            if (!names.TryGetValue(metric, out var name)) names[metric] = name = metric;
            rows.Add(new MetricValue(name, value));
        }
        if (lineNumber == 0) throw new TraceFormatException(file, 1, $"the file is empty; expected the header '{Header}'");
        groupStart.Add(rows.Count);
        return (rows.ToArray(), offsets.ToArray(), groupStart.ToArray());
    }
}

/// <summary>A trace file that cannot be replayed. The message reads <c>file:line: problem</c>.</summary>
public sealed class TraceFormatException : FormatException
{
    /// <summary>Creates the exception for <paramref name="problem"/> at <paramref name="fileName"/>:<paramref name="line"/>.</summary>
    public TraceFormatException(string fileName, int line, string problem)
        : base($"{fileName}:{line}: {problem}")
    {
        FileName = fileName;
        Line = line;
    }

    /// <summary>The trace's file name.</summary>
    public string FileName { get; }

    /// <summary>The 1-based line number.</summary>
    public int Line { get; }
}
