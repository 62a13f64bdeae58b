using Scarcity.Actors.Contracts;
using Scarcity.Actors.Sensing;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Sensing;

public sealed class TraceSensorSourceSpecs : IDisposable
{
    private static readonly DateTimeOffset Now = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "scarcity-traces-" + Guid.NewGuid().ToString("N"));

    public TraceSensorSourceSpecs() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string TracePath(string name) => Path.Combine(AppContext.BaseDirectory, "Traces", name);

    private string WriteTrace(string name, params string[] lines)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void Each_sample_emits_every_row_of_the_next_time()
    {
        using var trace = new TraceSensorSource(TracePath("vram-step.csv"));
        var buffer = new MetricBuffer();

        Assert.Equal(TimeSpan.Zero, trace.NextOffset);
        trace.Sample(buffer, Now);

        Assert.Equal([new MetricValue("vram_util", 0.5), new MetricValue("cpu_util", 0.2)], buffer.Values.ToArray());
        Assert.Equal(TimeSpan.FromSeconds(0.25), trace.NextOffset);
        Assert.Equal("trace:vram-step.csv", trace.Name);
    }

    [Fact]
    public void Replays_every_reading_in_time_order_then_has_no_more()
    {
        using var trace = new TraceSensorSource(TracePath("vram-step.csv"));
        var buffer = new MetricBuffer();
        var readings = new List<(TimeSpan At, double Vram)>();

        while (trace.HasMore)
        {
            var at = trace.NextOffset;
            buffer.Clear();
            trace.Sample(buffer, Now);
            readings.Add((at, buffer.Find("vram_util")!.Value));
        }

        Assert.Equal(41, readings.Count);
        Assert.Equal(41, trace.ReadingCount);
        Assert.Equal(TimeSpan.FromSeconds(10), readings[^1].At);
        Assert.Equal(0.5, readings.Last(r => r.At < TimeSpan.FromSeconds(2)).Vram);
        Assert.Equal(0.95, readings.First(r => r.At == TimeSpan.FromSeconds(2)).Vram);
        buffer.Clear();
        trace.Sample(buffer, Now);
        Assert.Equal(0, buffer.Count);
    }

    [Fact]
    public void Rewind_starts_the_replay_again()
    {
        using var trace = new TraceSensorSource(TracePath("vram-step.csv"));
        trace.Sample(new MetricBuffer(), Now);
        trace.Sample(new MetricBuffer(), Now);

        trace.Rewind();

        Assert.Equal(TimeSpan.Zero, trace.NextOffset);
        Assert.True(trace.HasMore);
    }

    [Theory]
    [InlineData("vram-step.csv")]
    [InlineData("vram-ramp-oom-10s.csv")]
    [InlineData("vram-hold-then-release.csv")]
    [InlineData("vram-hover-threshold.csv")]
    [InlineData("vram-noisy-plateau.csv")]
    public void Every_reference_trace_loads_with_readings_four_per_second(string name)
    {
        using var trace = new TraceSensorSource(TracePath(name));
        var previous = TimeSpan.MinValue;
        var buffer = new MetricBuffer();

        while (trace.HasMore)
        {
            var at = trace.NextOffset;
            if (previous != TimeSpan.MinValue) Assert.Equal(TimeSpan.FromSeconds(0.25), at - previous);
            previous = at;
            buffer.Clear();
            trace.Sample(buffer, Now);
            Assert.NotNull(buffer.Find("vram_util"));
        }
        Assert.True(trace.ReadingCount > 1);
    }

    [Fact]
    public void A_value_that_is_not_a_number_is_reported_with_file_and_line()
    {
        var lines = new List<string> { "t_seconds,metric,value" };
        for (var i = 0; i < 15; i++) lines.Add($"{i * 0.25:0.00},vram_util,0.5");
        lines.Add("3.75,vram_util,abc"); // line 17
        var path = WriteTrace("vram-step.csv", [.. lines]);

        var e = Assert.Throws<TraceFormatException>(() => new TraceSensorSource(path));

        Assert.Equal("vram-step.csv:17: value 'abc' is not a number", e.Message);
        Assert.Equal(17, e.Line);
    }

    [Theory]
    [InlineData("x,vram_util,0.5", "bad.csv:2: t_seconds 'x' is not a number")]
    [InlineData("0.5,vram_util", "bad.csv:2: expected 3 columns (t_seconds,metric,value), got 2")]
    [InlineData("0.5,,0.5", "bad.csv:2: metric is empty")]
    [InlineData("-1,vram_util,0.5", "bad.csv:2: t_seconds -1 is negative")]
    public void A_malformed_row_is_reported_with_file_and_line(string row, string message)
    {
        var e = Assert.Throws<TraceFormatException>(() =>
            new TraceSensorSource(new StringReader("t_seconds,metric,value\n" + row + "\n"), "bad.csv"));

        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Rows_out_of_time_order_are_rejected_naming_the_line()
    {
        var path = WriteTrace("shuffled.csv", "t_seconds,metric,value", "0.25,vram_util,0.5", "0.00,vram_util,0.5");

        var e = Assert.Throws<TraceFormatException>(() => new TraceSensorSource(path));

        Assert.StartsWith("shuffled.csv:3: t_seconds 0.00 comes after 0.25", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_without_the_header_is_rejected_at_line_one()
    {
        var path = WriteTrace("headless.csv", "0.00,vram_util,0.5");

        var e = Assert.Throws<TraceFormatException>(() => new TraceSensorSource(path));

        Assert.StartsWith("headless.csv:1: expected the header 't_seconds,metric,value'", e.Message, StringComparison.Ordinal);
    }
}
