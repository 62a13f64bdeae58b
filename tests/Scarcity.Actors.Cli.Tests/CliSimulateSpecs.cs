using System.Text.Json;
using Xunit;

namespace Scarcity.Actors.Cli.Tests;

/// <summary><c>scarcity simulate</c>: offline, the policy core in closed loop with the engine model.</summary>
public sealed class CliSimulateSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("scarcity-simulate-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Context_surge_prints_no_governor_ours_and_the_oracle_side_by_side()
    {
        var run = await CliRun.Of("simulate", "context-surge", "--delay", "1");

        Assert.True(run.ExitCode == 0, run.ToString());
        var lines = run.Out.Split('\n');
        Assert.Contains(lines, l => l.StartsWith("no governor", StringComparison.Ordinal) && l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[2] == "10");
        Assert.Contains(lines, l => l.StartsWith("ours ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("oracle ", StringComparison.Ordinal) && l.TrimEnd().EndsWith("1.000", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Under_json_all_runs_every_built_in_scenario_and_no_governor_matches_the_model_document()
    {
        var run = await CliRun.Of("simulate", "--all", "--json", "--delay", "1");

        Assert.True(run.ExitCode == 0, run.ToString());
        var scenarios = run.Json.GetProperty("scenarios").EnumerateArray().ToList();
        Assert.Equal(["context-surge", "traffic-burst", "demo"], scenarios.Select(s => s.GetProperty("scenario").GetString()));
        var surge = scenarios[0];
        Assert.Equal(10, surge.GetProperty("noGovernor").GetProperty("ooms").GetInt32());
        Assert.Equal(3246.714367527903, surge.GetProperty("oracle").GetProperty("goodRequests").GetDouble(), 6);
        Assert.Equal(0, surge.GetProperty("ours").GetProperty("ooms").GetInt32());
        Assert.Equal(1, run.Json.GetProperty("delay").GetInt32());
    }

    [Fact]
    public async Task The_configuration_given_is_the_one_that_governs()
    {
        // Arrange: one rule that never fires, so the governed run is the ungoverned one.
        var config = Path.Combine(_dir, "idle.json");
        await File.WriteAllTextAsync(config, """
            { "Scarcity": { "Policy": { "Policies": { "*": [ { "Metric": "queue_depth", "Threshold": 1000000, "Action": "shed_load", "Factor": 0.5 } ] } } } }
            """);

        // Act
        var run = await CliRun.Of("simulate", "traffic-burst", "--config", config, "--json");

        // Assert
        Assert.True(run.ExitCode == 0, run.ToString());
        var scenario = run.Json.GetProperty("scenarios")[0];
        Assert.Equal(scenario.GetProperty("noGovernor").ToString(), scenario.GetProperty("ours").ToString());
        Assert.Equal(0, scenario.GetProperty("decisions").GetInt32());
    }

    [Fact]
    public async Task An_invalid_configuration_is_refused_naming_its_key()
    {
        var config = Path.Combine(_dir, "bad.json");
        await File.WriteAllTextAsync(config, """{ "Scarcity": { "Policy": { "MinLevel": 2 } } }""");

        var run = await CliRun.Of("simulate", "demo", "--config", config);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("Scarcity:Policy:MinLevel", run.Err);
    }

    [Fact]
    public async Task A_scenario_file_runs_like_the_built_in_scenario_it_holds()
    {
        var file = Path.Combine(_dir, "burst.csv");
        await using (var writer = File.CreateText(file)) Simulation.ScenarioFile.Write(Simulation.Scenario.TrafficBurst, writer);

        var fromFile = await CliRun.Of("simulate", file, "--json");
        var builtIn = await CliRun.Of("simulate", "traffic-burst", "--json");

        Assert.True(fromFile.ExitCode == 0, fromFile.ToString());
        var a = fromFile.Json.GetProperty("scenarios")[0];
        var b = builtIn.Json.GetProperty("scenarios")[0];
        Assert.Equal("burst", a.GetProperty("scenario").GetString());
        foreach (var who in new[] { "noGovernor", "ours", "oracle", "stepSafe" })
            Assert.Equal(b.GetProperty(who).ToString(), a.GetProperty(who).ToString());
    }

    [Fact]
    public async Task A_malformed_scenario_file_is_an_error_naming_file_and_line()
    {
        var file = Path.Combine(_dir, "bad.csv");
        await File.WriteAllLinesAsync(file, ["t_seconds,arrivals,context_k", "0,10,1.0", "0.25,ten,1.0"]);

        var run = await CliRun.Of("simulate", file);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains($"{file}:3:", run.Err);
    }

    [Fact]
    public async Task An_unreadable_scenario_is_a_usage_error_naming_it()
    {
        var run = await CliRun.Of("simulate", Path.Combine(_dir, "absent.csv"));

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("absent.csv", run.Err);
    }

    [Theory]
    [InlineData("simulate")]
    [InlineData("simulate", "demo", "--delay", "-1")]
    public async Task A_usage_error_exits_2(params string[] args)
    {
        var run = await CliRun.Of(args);

        Assert.True(run.ExitCode == 2, run.ToString());
    }

    [Fact]
    public async Task Plot_writes_a_png_per_scenario()
    {
        var plot = Path.Combine(_dir, "run.png");

        var run = await CliRun.Of("simulate", "demo", "traffic-burst", "--plot", plot, "--json");

        Assert.True(run.ExitCode == 0, run.ToString());
        foreach (var name in new[] { "run-demo.png", "run-traffic-burst.png" })
        {
            var bytes = await File.ReadAllBytesAsync(Path.Combine(_dir, name));
            Assert.True(bytes.Length > 10_000, $"{name}: {bytes.Length} bytes");
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        }
        Assert.Equal(Path.Combine(_dir, "run-demo.png"), run.Json.GetProperty("scenarios")[0].GetProperty("plot").GetString());
    }
}
