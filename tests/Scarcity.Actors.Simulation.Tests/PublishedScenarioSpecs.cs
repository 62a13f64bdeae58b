using Scarcity.Actors.Simulation;
using Scarcity.Actors.Simulation.ClosedLoop;
using Xunit;

namespace Scarcity.Actors.Simulation.Tests;

/// <summary>The scenario files published in tests/scenarios (scripts/generate-scenarios.py, docs/control-quality.md).</summary>
public sealed class PublishedScenarioSpecs
{
    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Folder(), "*.csv").Order(StringComparer.Ordinal)) data.Add(Path.GetFileName(file));
        return data;
    }

    [Fact]
    public void At_least_three_scenario_files_are_published()
    {
        Assert.True(Directory.GetFiles(Folder(), "*.csv").Length >= 3);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Each_reads_and_the_oracle_serves_it_without_OOM_nor_a_second_over_the_SLO(string file)
    {
        var scenario = ScenarioFile.Load(Path.Combine(Folder(), file));

        var oracle = ClosedLoopRunner.Run(scenario, OracleGovernor.Instance);
        var none = ClosedLoopRunner.Run(scenario, Ungoverned.Instance);

        Assert.True(scenario.Steps >= 4 * 60, $"{file}: {scenario.Steps} steps");
        Assert.Equal(0, oracle.Scores.Ooms);
        Assert.Equal(0, oracle.Scores.SecondsOverSlo);
        Assert.True(none.Scores.Ooms > 0 || none.Scores.SecondsOverSlo > 0, $"{file} must put an ungoverned engine in trouble");
    }

    private static string Folder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Scarcity.Actors.sln"))) return Path.Combine(dir.FullName, "tests", "scenarios");
        throw new DirectoryNotFoundException("no Scarcity.Actors.sln above " + AppContext.BaseDirectory);
    }
}
