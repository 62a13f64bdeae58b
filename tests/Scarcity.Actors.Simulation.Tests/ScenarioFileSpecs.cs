using Scarcity.Actors.Simulation;
using Xunit;

namespace Scarcity.Actors.Simulation.Tests;

/// <summary>Scenario files: <c>t_seconds,arrivals,context_k</c>, one row per step; every problem names file:line.</summary>
public sealed class ScenarioFileSpecs
{
    [Fact]
    public void A_file_gives_each_step_its_row()
    {
        var scenario = ScenarioFile.Parse("s", "s.csv", ["t_seconds,arrivals,context_k", "0,10,1.5", "0.25,12,2", ""]);

        Assert.Equal(2, scenario.Steps);
        Assert.Equal(new ScenarioInput(10, 1.5), scenario.At(0));
        Assert.Equal(new ScenarioInput(12, 2), scenario.At(0.25));
    }

    [Fact]
    public void A_written_scenario_reads_back_the_same()
    {
        var path = Path.Combine(Path.GetTempPath(), $"scenario-{Guid.NewGuid():N}.csv");
        try
        {
            using (var writer = File.CreateText(path)) ScenarioFile.Write(Scenario.TrafficBurst, writer);

            var read = ScenarioFile.Load(path);

            Assert.Equal(Scenario.TrafficBurst.Steps, read.Steps);
            Assert.Equal(Scenario.TrafficBurst.Run().Scores, read.Run().Scores);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(1, "time,arrivals,context_k", "0,1,1")]
    [InlineData(3, "t_seconds,arrivals,context_k", "0,1,1", "0.5,1,1")]
    [InlineData(2, "t_seconds,arrivals,context_k", "0,1")]
    [InlineData(2, "t_seconds,arrivals,context_k", "0,many,1")]
    [InlineData(2, "t_seconds,arrivals,context_k", "0,-1,1")]
    [InlineData(3, "t_seconds,arrivals,context_k", "0,1,1", "0.25,1,NaN")]
    public void A_malformed_line_is_an_error_naming_file_and_line(int line, params string[] lines)
    {
        var e = Assert.Throws<ScenarioFileException>(() => ScenarioFile.Parse("bad", "bad.csv", lines));

        Assert.Equal(line, e.Line);
        Assert.StartsWith($"bad.csv:{line}: ", e.Message);
    }

    [Fact]
    public void An_unreadable_file_is_an_error_naming_it()
    {
        var e = Assert.Throws<ScenarioFileException>(() => ScenarioFile.Load("/no/such/scenario.csv"));

        Assert.Contains("/no/such/scenario.csv", e.Message);
        Assert.Null(e.Line);
    }
}
