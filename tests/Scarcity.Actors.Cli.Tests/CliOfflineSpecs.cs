using Scarcity.Actors.Testing;
using Xunit;

namespace Scarcity.Actors.Cli.Tests;

/// <summary>What the CLI does without a reachable governor: usage errors, an unreachable contact, errors under --json.</summary>
public sealed class CliOfflineSpecs
{
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
    public async Task Under_json_an_unreachable_contact_is_one_json_error_object_on_stdout()
    {
        var address = $"akka.tcp://scarcity@127.0.0.1:{GovernorHost.FreePort()}";

        var run = await CliRun.Of("nodes", "--json", "--contact", address);

        Assert.Equal(1, run.ExitCode);
        Assert.Empty(run.Err);
        Assert.Contains(address, run.Json.GetProperty("error").GetString());
        Assert.Equal(1, run.Json.GetProperty("exitCode").GetInt32());
    }

    [Theory]
    [InlineData("nodes", "--json", "--no-such-option")]
    [InlineData("nodes", "--json")]
    [InlineData("actions", "--json", "--since", "yesterday-ish", "--contact", "127.0.0.1:9")]
    [InlineData("cluster", "leave", "--json")]
    public async Task Under_json_a_usage_error_is_one_json_error_object_on_stdout(params string[] args)
    {
        Environment.SetEnvironmentVariable("SCARCITY_CONTACT", null);

        var run = await CliRun.Of(args);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Empty(run.Err);
        Assert.False(string.IsNullOrWhiteSpace(run.Json.GetProperty("error").GetString()));
        Assert.Equal(2, run.Json.GetProperty("exitCode").GetInt32());
    }
}

