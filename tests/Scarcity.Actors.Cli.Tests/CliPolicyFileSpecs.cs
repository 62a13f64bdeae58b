using System.Diagnostics;
using System.Text.Json;
using Xunit;

namespace Scarcity.Actors.Cli.Tests;

/// <summary><c>policies validate &lt;file&gt;</c>: the shapes it reads, every problem at once with its key, exit codes, --json.</summary>
public sealed class CliPolicyFileSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("scarcity-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(string name, string json)
    {
        var path = Path.Combine(_dir, name);
        System.IO.File.WriteAllText(path, json);
        return path;
    }

    private static string RepositoryRoot()
    {
        var dir = AppContext.BaseDirectory;
        while (!System.IO.File.Exists(Path.Combine(dir, "Scarcity.Actors.sln"))) dir = Path.GetDirectoryName(dir) ?? throw new InvalidOperationException("no Scarcity.Actors.sln above the tests");
        return dir;
    }

    private static List<(string? Key, string Message)> Problems(CliRun run) =>
        [.. run.Json.GetProperty("problems").EnumerateArray().Select(p => (p.GetProperty("key").GetString(), p.GetProperty("message").GetString()!))];

    /// <summary>The policy file docs/cli.md shows, as written there (the json block after its marker comment).</summary>
    private static string DocumentedExample()
    {
        var lines = System.IO.File.ReadAllLines(Path.Combine(RepositoryRoot(), "docs", "cli.md"));
        var marker = Array.FindIndex(lines, l => l.Contains("<!-- policy file example", StringComparison.Ordinal));
        Assert.True(marker >= 0, "docs/cli.md has no '<!-- policy file example' marker");
        var start = Array.FindIndex(lines, marker, l => l.StartsWith("```json", StringComparison.Ordinal)) + 1;
        var end = Array.FindIndex(lines, start, l => l.StartsWith("```", StringComparison.Ordinal));
        return string.Join('\n', lines[start..end]);
    }

    [Fact]
    public async Task The_policy_file_of_the_docs_validates()
    {
        var path = File("rules.json", DocumentedExample());

        var run = await CliRun.Of("policies", "validate", path);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal($"{path}: valid", run.Out.Trim());
    }

    [Fact]
    public async Task Every_configuration_of_the_repository_validates_as_a_whole()
    {
        // Every governor configuration; cluster-config/grafana/ holds the Grafana dashboard, not a configuration.
        var grafana = Path.Combine(RepositoryRoot(), "cluster-config", "grafana") + Path.DirectorySeparatorChar;
        var files = Directory.GetFiles(Path.Combine(RepositoryRoot(), "cluster-config"), "*.json", SearchOption.AllDirectories)
            .Where(f => !f.StartsWith(grafana, StringComparison.Ordinal)).ToArray();

        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var run = await CliRun.Of("policies", "validate", file, "--json");
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.True(run.Json.GetProperty("valid").GetBoolean());
        }
    }

    [Fact]
    public async Task Two_typos_and_a_threshold_out_of_range_are_reported_at_once_with_their_keys()
    {
        var path = File("rules.json", """
            { "Cooldwn": "00:00:05",
              "Policies": { "*": [ { "Metric": "vram_util", "Threshold": 0.85, "Action": "reduce_batch", "Factor": 0.5, "Signl": "Forecast" },
                                   { "Metric": "cpu_util", "Threshold": 1.5, "Action": "throttle", "Factor": 0.7 } ] } }
            """);

        var run = await CliRun.Of("policies", "validate", path);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Equal(
        [
            $"{path}: 3 error(s)",
            "  - Scarcity:Policy:Cooldwn is not a known key; did you mean 'Cooldown'?",
            "  - Scarcity:Policy:Policies:*:0:Signl is not a known key; did you mean 'Signal'?",
            "  - Scarcity:Policy:Policies:*:1:Threshold 1.5 is out of range for 'cpu_util', a fraction in (0, 1] (written in percent? 1.5 % is 0.015)",
        ], run.Out.TrimEnd().Split(Environment.NewLine));
    }

    [Fact]
    public async Task Under_json_every_problem_has_its_key_apart_and_the_errors_stay_one_line_each()
    {
        var path = File("rules.json", """
            { "MinLevel": 2,
              "Policies": { "*": [ { "Metrc": "vram_util", "Threshold": 0.85, "Action": "reduce_batch", "Factor": 0.5 },
                                   { "Metric": "cpu_util", "Threshold": "high", "Action": "nap", "Factor": 0.5 } ] } }
            """);

        var run = await CliRun.Of("policies", "validate", path, "--json");

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Empty(run.Err);
        Assert.Equal(path, run.Json.GetProperty("file").GetString());
        Assert.False(run.Json.GetProperty("valid").GetBoolean());
        Assert.Equal(
        [
            ("Scarcity:Policy:MinLevel", "must be in (0, 1), was 2"),
            ("Scarcity:Policy:Policies:*:0:Metrc", "is not a known key; did you mean 'Metric'?"),
            ("Scarcity:Policy:Policies:*:0:Metric", "is missing"),
            ("Scarcity:Policy:Policies:*:1:Action", "'nap' is not a known action (built-in: reduce_batch, scale_up, shed_load, throttle; add custom ones to Scarcity:Policy:CustomActions)"),
            ("Scarcity:Policy:Policies:*:1:Threshold", "'high' is not a number"),
        ], Problems(run));
        var errors = run.Json.GetProperty("errors").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Equal(Problems(run).Select(p => $"{p.Key} {p.Message}"), errors);
    }

    [Fact]
    public async Task The_policy_section_may_come_wrapped_in_Policy_or_in_a_whole_Scarcity_section()
    {
        const string rules = """{ "Policies": { "engine": [ { "Metric": "vram_util", "Threshold": 0.9, "Action": "reduce_batch", "Factor": 0.5 } ] } }""";
        var wrapped = File("wrapped.json", $$"""{ "Policy": {{rules}} }""");
        var whole = File("appsettings.json", $$"""{ "Logging": { "LogLevel": { "Default": "Information" } }, "Scarcity": { "Host": "gpu-a", "Policy": {{rules}} } }""");

        Assert.Equal(0, (await CliRun.Of("policies", "validate", wrapped)).ExitCode);
        Assert.Equal(0, (await CliRun.Of("policies", "validate", whole)).ExitCode);
    }

    [Fact]
    public async Task A_whole_Scarcity_section_is_checked_in_every_section()
    {
        var path = File("appsettings.json", """
            { "Scarcity": { "Sensor": { "Interval": "00:00:00" }, "Clusterr": { "Port": 4053 },
                            "Policy": { "Policies": { "*": [ { "Metric": "vram_util", "Threshold": 85, "Action": "reduce_batch", "Factor": 0.5 } ] } } } }
            """);

        var run = await CliRun.Of("policies", "validate", path, "--json");

        Assert.Equal(1, run.ExitCode);
        Assert.Equal(["Scarcity:Clusterr", "Scarcity:Policy:Policies:*:0:Threshold", "Scarcity:Sensor:Interval"], Problems(run).Select(p => p.Key));
    }

    [Fact]
    public async Task A_file_that_is_not_json_names_the_file_and_the_line_and_exits_1()
    {
        var path = File("broken.json", "{\n  \"Policies\": {\n    \"*\": [ { \"Metric\" \"vram_util\" } ]\n  }\n}\n");

        var text = await CliRun.Of("policies", "validate", path);
        var json = await CliRun.Of("policies", "validate", path, "--json");

        Assert.Equal(1, text.ExitCode);
        Assert.Contains($"{path}, line 3, column 23: not valid JSON", text.Out);
        Assert.Equal(1, json.ExitCode);
        var problem = Assert.Single(json.Json.GetProperty("problems").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, problem.GetProperty("key").ValueKind);
        Assert.Equal(3, problem.GetProperty("line").GetInt32());
    }

    [Fact]
    public async Task A_missing_or_unreadable_file_is_a_usage_error_naming_it()
    {
        var absent = Path.Combine(_dir, "absent.json");

        var text = await CliRun.Of("policies", "validate", absent);
        var json = await CliRun.Of("policies", "validate", absent, "--json");
        var directory = await CliRun.Of("policies", "validate", _dir);

        Assert.Equal(2, text.ExitCode);
        Assert.Equal($"scarcity: cannot read {absent}: no such file", text.Err.Trim());
        Assert.Empty(text.Out);
        Assert.Equal(2, json.ExitCode);
        Assert.Equal($"cannot read {absent}: no such file", json.Json.GetProperty("error").GetString());
        Assert.Equal(2, json.Json.GetProperty("exitCode").GetInt32());
        Assert.Equal(2, directory.ExitCode);
        Assert.Contains("is a directory", directory.Err);
    }

    [Fact]
    public void A_subsystem_name_with_a_space_stays_whole_in_the_key()
    {
        var problem = PolicyFile.Split("Scarcity:Policy:Policies:my engine:0:Metric is missing",
            ["Scarcity", "Scarcity:Policy", "Scarcity:Policy:Policies", "Scarcity:Policy:Policies:my engine", "Scarcity:Policy:Policies:my engine:0"]);

        Assert.Equal(new PolicyProblem("Scarcity:Policy:Policies:my engine:0:Metric", "is missing"), problem);
    }

    [Fact]
    public async Task The_scripts_wrapper_runs_the_documented_command_as_written()
    {
        var root = RepositoryRoot();
        var start = new ProcessStartInfo("bash", ["scripts/scarcity", "policies", "validate", "cluster-config/single-node.json"])
        {
            WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5)); // builds the CLI first when it is not built
        await process.WaitForExitAsync(timeout.Token);

        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}\n{await output}\n{await error}");
        Assert.Equal("cluster-config/single-node.json: valid", (await output).Trim());
    }
}
