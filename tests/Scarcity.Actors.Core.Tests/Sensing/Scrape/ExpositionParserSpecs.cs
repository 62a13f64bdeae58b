using Scarcity.Actors.Sensing.Scrape;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Sensing.Scrape;

public sealed class ExpositionParserSpecs
{
    private static readonly Exposition EdgeCases = Exposition.Parse(Expositions.Read("edge-cases.txt"));

    private static ExpositionSample Only(Exposition e, string name) => Assert.Single(e.Samples, s => s.Name == name);

    [Fact]
    public void Label_values_unescape_backslash_quote_and_new_line()
    {
        var sample = Only(EdgeCases, "msdos_file_access_time_seconds");

        Assert.Equal(@"C:\DIR\FILE.TXT", sample.Label("path"));
        Assert.Equal("Cannot find file:\n\"FILE.TXT\"", sample.Label("error"));
        Assert.Equal(1.458255915e9, sample.Value);
    }

    [Fact]
    public void NaN_and_both_infinities_are_values()
    {
        Assert.True(double.IsNaN(Only(EdgeCases, "not_a_number").Value));
        Assert.Equal(double.NegativeInfinity, Only(EdgeCases, "negative_infinity").Value);
        Assert.Equal(double.PositiveInfinity, Only(EdgeCases, "something_weird").Value);
        Assert.Equal(double.PositiveInfinity, ExpositionParser.Parse("x Inf").Samples[0].Value);
        Assert.True(double.IsNaN(ExpositionParser.Parse("x nan").Samples[0].Value));
    }

    [Fact]
    public void Timestamps_are_optional_integer_milliseconds_and_may_be_negative()
    {
        Assert.All(EdgeCases.Samples.Where(s => s.Name == "http_requests_total"), s => Assert.Equal(1395066363000, s.TimestampMs));
        Assert.Equal(-3982045, Only(EdgeCases, "something_weird").TimestampMs);
        Assert.Null(Only(EdgeCases, "metric_without_timestamp_and_labels").TimestampMs);
        Assert.Equal(3, EdgeCases.Samples.Single(s => s.Label("code") == "400").Value); // several blanks before the value
    }

    [Fact]
    public void A_family_without_a_TYPE_line_is_untyped_and_typed_families_cover_their_suffixed_samples()
    {
        Assert.Equal(ExpositionType.Untyped, EdgeCases.TypeOf("metric_without_timestamp_and_labels"));
        Assert.Equal(ExpositionType.Counter, EdgeCases.TypeOf("http_requests_total"));
        Assert.Equal(ExpositionType.Histogram, EdgeCases.TypeOf("http_request_duration_seconds_bucket"));
        Assert.Equal(ExpositionType.Histogram, EdgeCases.TypeOf("http_request_duration_seconds_count"));
        Assert.Equal(ExpositionType.Summary, EdgeCases.TypeOf("rpc_duration_seconds_sum"));
        Assert.Equal(ExpositionType.Summary, EdgeCases.TypeOf("rpc_duration_seconds"));
    }

    [Fact]
    public void HELP_text_unescapes_and_other_comments_are_ignored()
    {
        Assert.Equal(@"The total number of HTTP requests, with a backslash \ and a", EdgeCases.Help["http_requests_total"]);
        Assert.Single(EdgeCases.Help); // "# HELP-like ..." is a comment, not a second HELP
        Assert.Equal(21, EdgeCases.Samples.Count);
    }

    [Fact]
    public void The_plus_Inf_bucket_and_a_trailing_comma_and_tabs_and_indentation_parse()
    {
        var inf = EdgeCases.Samples.Single(s => s.Name == "http_request_duration_seconds_bucket" && s.Label("le") == "+Inf");
        Assert.Equal(144320, inf.Value);
        Assert.Equal("1", Only(EdgeCases, "trailing_comma").Label("a"));
        Assert.Equal(0.0025, Only(EdgeCases, "indented_sample").Value);
    }

    [Fact]
    public void An_OpenMetrics_exemplar_after_a_value_is_skipped()
    {
        var e = ExpositionParser.Parse("h_bucket{le=\"1\"} 5 # {trace_id=\"4bf92f\"} 0.5 1600000000.1\nh_count 5 1600000000000 # {} 1\n# EOF");

        Assert.Equal([5.0, 5.0], e.Samples.Select(s => s.Value));
        Assert.Equal(1600000000000, e.Samples[1].TimestampMs);
    }

    [Fact]
    public void Carriage_returns_and_blank_lines_are_tolerated()
    {
        var e = ExpositionParser.Parse("# TYPE a gauge\r\na 1\r\n\r\n   \nb{x=\"y\"} 2\r\n");

        Assert.Equal([1.0, 2.0], e.Samples.Select(s => s.Value));
        Assert.Equal(ExpositionType.Gauge, e.Types["a"]);
    }

    [Fact]
    public void The_recorded_engine_expositions_parse_with_their_colon_names()
    {
        var vllm = Exposition.Parse(Expositions.Read("vllm-0.txt"));
        var tgi = Exposition.Parse(Expositions.Read("tgi.txt"));
        var triton = Exposition.Parse(Expositions.Read("triton.txt"));

        Assert.Equal(0.42, vllm.Samples.Single(s => s.Name == "vllm:gpu_cache_usage_perc").Value);
        Assert.Equal(ExpositionType.Histogram, vllm.TypeOf("vllm:time_to_first_token_seconds_bucket"));
        Assert.Equal(ExpositionType.Counter, vllm.TypeOf("vllm:generation_tokens_total"));
        Assert.Equal(7, tgi.Samples.Single(s => s.Name == "tgi_queue_size").Value);
        Assert.Equal(2, triton.Samples.Count(s => s.Name == "nv_inference_pending_request_count"));
    }

    [Theory]
    [InlineData("x{a=\"1\"", "line 1", "not closed")]
    [InlineData("x{a=1} 2", "line 1", "double quotes")]
    [InlineData("x{a=\"\\t\"} 2", "line 1", "not an escape")]
    [InlineData("x{a=\"1\",a=\"2\"} 2", "line 1", "twice")]
    [InlineData("ok 1\nx", "line 2", "has no value")]
    [InlineData("x one", "line 1", "'one' is not a value")]
    [InlineData("x 1 12.5", "line 1", "not a timestamp")]
    [InlineData("x 1 2 3", "line 1", "unexpected")]
    [InlineData("9x 1", "line 1", "cannot start")]
    [InlineData("# TYPE x gauges", "line 1", "not a metric type")]
    [InlineData("# TYPE x gauge\n# TYPE x counter", "line 2", "second # TYPE")]
    [InlineData("x{a=\"unterminated} 1", "line 1", "no closing quote")]
    [InlineData("x 1,5", "line 1", "is not a value")]
    public void A_malformed_line_fails_the_whole_exposition_naming_the_line_and_the_fault(string text, string line, string fault)
    {
        var error = Assert.Throws<ExpositionFormatException>(() => ExpositionParser.Parse(text));

        Assert.Contains(line, error.Message);
        Assert.Contains(fault, error.Message);
    }
}
