using Microsoft.Extensions.Configuration;
using Scarcity.Actors.Configuration;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Configuration;

/// <summary>The operator token, the registration bound, and connection strings as they may be shown.</summary>
public sealed class OperationsConfigSpecs
{
    private static DRGConfig Load(params (string Key, string Value)[] values) =>
        DRGConfig.Load(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build());

    [Fact]
    public void By_default_no_token_is_configured_and_64_subsystems_per_host_are_allowed()
    {
        var config = Load();

        Assert.Null(config.Operations.ResolveToken());
        Assert.Equal(64, config.Operations.MaxSubsystemsPerHost);
    }

    [Fact]
    public void A_token_from_the_configuration_or_the_first_line_of_a_file_is_the_one_that_matches()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "from-the-file-0123456789\nsecond line\n");
            var fromKey = Load(("Scarcity:Operations:OperatorToken", "from-the-key-0123456789")).Operations.ResolveToken();
            var fromFile = Load(("Scarcity:Operations:OperatorTokenFile", file)).Operations.ResolveToken();

            Assert.Equal("from-the-key-0123456789", fromKey);
            Assert.Equal("from-the-file-0123456789", fromFile);
            Assert.True(OperationsConfig.Matches(fromFile, "from-the-file-0123456789"));
            Assert.False(OperationsConfig.Matches(fromFile, "from-the-file-012345678"));
            Assert.False(OperationsConfig.Matches(fromFile, null));
            Assert.False(OperationsConfig.Matches(null, "anything"));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void A_short_token_both_sources_an_unreadable_file_and_a_bad_bound_are_each_named_at_once()
    {
        var error = Assert.Throws<DRGConfigException>(() => Load(
            ("Scarcity:Operations:OperatorToken", "short"),
            ("Scarcity:Operations:OperatorTokenFile", "/nonexistent/token"),
            ("Scarcity:Operations:MaxSubsystemsPerHost", "0")));

        Assert.Contains(error.Errors, e => e.StartsWith("Scarcity:Operations:OperatorToken and Scarcity:Operations:OperatorTokenFile are both set", StringComparison.Ordinal));
        Assert.Contains("Scarcity:Operations:OperatorToken must be at least 16 characters, was 5", error.Errors);
        Assert.Contains(error.Errors, e => e.StartsWith("Scarcity:Operations:OperatorTokenFile '/nonexistent/token' cannot be read", StringComparison.Ordinal));
        Assert.Contains("Scarcity:Operations:MaxSubsystemsPerHost must be between 1 and 100000, was 0", error.Errors);
    }

    [Theory]
    [InlineData("Host=db;Username=drg;Password=hunter2;Database=scarcity", "hunter2")]
    [InlineData("Host=db;PWD=hunter2", "hunter2")]
    [InlineData("Data Source=./data/scarcity.db;Password=hunter2", "hunter2")]
    [InlineData("Host=db;SSL Password=hunter2", "hunter2")]
    public void A_connection_string_is_shown_with_its_secrets_replaced(string connectionString, string secret)
    {
        var shown = ConnectionStrings.Redact(connectionString);

        Assert.DoesNotContain(secret, shown);
        Assert.Contains("***", shown);
    }

    [Fact]
    public void A_connection_string_without_secrets_is_shown_as_is_and_one_that_does_not_parse_not_at_all()
    {
        Assert.Equal("data source=./data/scarcity.db", ConnectionStrings.Redact("Data Source=./data/scarcity.db"));
        Assert.DoesNotContain("hunter2", ConnectionStrings.Redact("Host=db;Password='hunter2"));
    }
}
