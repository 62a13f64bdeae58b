using Scarcity.Actors.Testing;
using Xunit;

namespace Scarcity.Actors.Cli.Tests;

/// <summary>What the CLI does without a reachable governor: usage errors, an unreachable contact, policy files.</summary>
public sealed class CliOfflineSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("scarcity-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(string name, string json)
    {
        var path = Path.Combine(_dir, name);
        System.IO.File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public async Task An_unreachable_contact_fails_within_5_seconds_naming_the_address()
    {
        var address = $"akka.tcp://scarcity@127.0.0.1:{GovernorHost.FreePort()}";

        var run = await CliRun.Of("cluster", "show", "--contact", address);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains(address, run.Err);
        Assert.True(run.Took < TimeSpan.FromSeconds(5), $"took {run.Took}");
    }

    [Fact]
    public async Task A_contact_from_the_environment_is_used_when_no_option_is_given()
    {
        var address = $"akka.tcp://scarcity@127.0.0.1:{GovernorHost.FreePort()}";
        Environment.SetEnvironmentVariable("SCARCITY_CONTACT", address);
        try
        {
            var run = await CliRun.Of("nodes");

            Assert.Equal(1, run.ExitCode);
            Assert.Contains(address, run.Err);
        }
        finally
        {
            Environment.SetEnvironmentVariable("SCARCITY_CONTACT", null);
        }
    }

    [Theory]
    [InlineData("no-such-command")]
    [InlineData("cluster")]
    [InlineData("cluster", "leave")]
    [InlineData("nodes", "--no-such-option")]
    [InlineData("actions", "--since", "yesterday-ish", "--contact", "127.0.0.1:9")]
    [InlineData("nodes", "--contact", "not an address")]
    [InlineData("nodes")]
    public async Task A_usage_error_exits_2(params string[] args)
    {
        Environment.SetEnvironmentVariable("SCARCITY_CONTACT", null);

        var run = await CliRun.Of(args);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.NotEmpty(run.Err);
    }

    [Fact]
    public async Task Validate_lists_every_error_of_a_policy_section_with_its_key()
    {
        var path = File("bad.json", """
            { "MinLevel": 2,
              "Policies": { "*": [ { "Metric": "vram_utl", "Threshold": 0.85, "Action": "reduce_batch", "Factor": 0.5 },
                                   { "Metric": "cpu_util", "Threshold": 1.5, "Action": "nap", "Factor": 0.5 } ] } }
            """);

        var run = await CliRun.Of("policies", "validate", path, "--json");

        Assert.Equal(1, run.ExitCode);
        Assert.False(run.Json.GetProperty("valid").GetBoolean());
        var errors = run.Json.GetProperty("errors").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal(4, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("Scarcity:Policy:MinLevel", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Scarcity:Policy:Policies:*:0:Metric 'vram_utl'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Scarcity:Policy:Policies:*:1:Threshold", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Scarcity:Policy:Policies:*:1:Action 'nap'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Validate_reads_a_whole_Scarcity_section_and_names_an_unknown_key()
    {
        var path = File("settings.json", """{ "Scarcity": { "Policy": { "Cooldwn": "00:00:05" } } }""");

        var run = await CliRun.Of("policies", "validate", path);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("Cooldwn", run.Out);
    }

    [Fact]
    public async Task Validate_accepts_a_good_file()
    {
        var path = File("good.json", """
            { "Scarcity": { "Policy": { "Policies": { "engine": [
                { "Metric": "vram_util", "Threshold": 0.9, "Action": "reduce_batch", "Factor": 0.5, "Signal": "Forecast" } ] } } } }
            """);

        var run = await CliRun.Of("policies", "validate", path, "--json");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(run.Json.GetProperty("valid").GetBoolean());
        Assert.Empty(run.Json.GetProperty("errors").EnumerateArray());
    }

    [Fact]
    public async Task Validate_of_a_missing_file_is_an_error_naming_it()
    {
        var run = await CliRun.Of("policies", "validate", Path.Combine(_dir, "absent.json"));

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("absent.json", run.Err);
    }
}
