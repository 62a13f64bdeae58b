using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;
using Xunit;

namespace Scarcity.Actors.Cli.Tests;

/// <summary>
/// <c>policies apply</c>, <c>history</c> and <c>rollback</c> against a real three-node cluster in this process (two governors
/// and a sensor node): the policy store records each version, every node uses it within seconds, an invalid file changes
/// nothing, and both commands need the operator token.
/// </summary>
public sealed class CliPolicyVersionSpecs : IAsyncLifetime
{
    private const string Token = "spec-operator-token-0123456789";
    private static readonly TimeSpan FewSeconds = TimeSpan.FromSeconds(15);
    private readonly string _dir = Directory.CreateTempSubdirectory("scarcity-cli-policy-").FullName;
    private CliCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await CliCluster.StartAsync(c =>
    {
        c.Operations.OperatorToken = Token;
        c.Policy.Cooldown = TimeSpan.FromSeconds(5);
        // Every node a governor: the CLI's client may talk to any node's receptionist, and a command handled by a
        // sensor-only node (no database) is in its log only, so the journal count below would depend on that draw.
        if (!c.Cluster.IsGovernor) c.Cluster.Roles.Add("governor");
    });

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private string File(string name, string json)
    {
        var path = Path.Combine(_dir, name);
        System.IO.File.WriteAllText(path, json);
        return path;
    }

    private string Contact => _cluster.Nodes[0].Address;

    private Task EveryNodeRuns(int version) => _cluster.WaitUntil(() => _cluster.Nodes.All(n => NodePolicy.Get(n.System).Current?.LiveVersion == version), FewSeconds);

    private void AssertEveryNodeRuns(int version, Func<PolicyConfig, bool> check) => Assert.All(_cluster.Nodes, n =>
    {
        var current = NodePolicy.Get(n.System).Current;
        Assert.True(current?.LiveVersion == version, $"{n.Config.Host} runs version {current?.LiveVersion}, not {version}");
        Assert.True(check(current!.Live), $"{n.Config.Host}: the policy of version {version} is not what was applied");
    });

    [Fact]
    public async Task Apply_records_a_version_every_node_uses_within_seconds_history_lists_it_and_rollback_returns_to_the_old_one()
    {
        await EveryNodeRuns(1); // the configuration file's policy, recorded by the store as version 1
        var path = File("tighter.json", """
            { "Cooldown": "00:00:03",
              "Policies": { "*": [ { "Metric": "vram_util", "Threshold": 0.8, "Action": "reduce_batch", "Factor": 0.5, "Signal": "Forecast" },
                                   { "Metric": "cpu_util", "Threshold": 0.9, "Action": "throttle", "Factor": 0.7, "DryRun": true } ] } }
            """);

        var applied = await CliRun.Of("policies", "apply", path, "--json", "--contact", Contact, "--token", Token, "--author", "alice@ops");

        Assert.True(applied.ExitCode == 0, applied.ToString());
        var version = applied.Json.GetProperty("version");
        Assert.Equal(2, version.GetProperty("version").GetInt32());
        Assert.Equal("alice@ops", version.GetProperty("author").GetString());
        var diff = version.GetProperty("diff").EnumerateArray().Select(d => d.GetString()!).ToList();
        Assert.Contains("Cooldown: 00:00:05 -> 00:00:03", diff);
        Assert.Contains(diff, d => d.StartsWith("+ *: cpu_util estimate > 0.9 -> throttle x0.7 (dry-run)", StringComparison.Ordinal));
        var started = DateTime.UtcNow;
        await EveryNodeRuns(2);
        Assert.True(DateTime.UtcNow - started < FewSeconds);
        AssertEveryNodeRuns(2, p => p.Cooldown == TimeSpan.FromSeconds(3) && p.Policies["*"].Count(r => r.DryRun) == 1);
        var shown = await CliRun.Of("policies", "--json", "--contact", _cluster.Nodes[1].Address);
        Assert.Equal(2, shown.Json.GetProperty("version").GetInt32());

        var rollback = await CliRun.Of("policies", "rollback", "1", "--contact", Contact, "--token", Token, "--author", "bob@ops");

        Assert.True(rollback.ExitCode == 0, rollback.ToString());
        Assert.Contains("recorded version 3 by bob@ops, equal to version 1", rollback.Out);
        await EveryNodeRuns(3);
        AssertEveryNodeRuns(3, p => p.Cooldown == TimeSpan.FromSeconds(5) && p.Policies.Count == 0);
        var history = await CliRun.Of("policies", "history", "--json", "--contact", _cluster.Nodes[2].Address);
        Assert.True(history.ExitCode == 0, history.ToString());
        var versions = history.Json.GetProperty("versions").EnumerateArray().ToList();
        Assert.Equal([1, 2, 3], versions.Select(v => v.GetProperty("version").GetInt32()));
        Assert.Equal(["configuration", "alice@ops", "bob@ops"], versions.Select(v => v.GetProperty("author").GetString()!));
        Assert.Equal(1, versions[2].GetProperty("rolledBackFrom").GetInt32());
        var table = await CliRun.Of("policies", "history", "--contact", Contact);
        Assert.Contains("rollback to v1", table.Out);
        Assert.Contains("3 *", table.Out);
        // Journaled (each node has a SQLite file of its own, and the CLI's receptionist may hand a command to any node):
        // both commands as OperatorActions, each version once, as an event of the store.
        await _cluster.WaitUntil(() => JournalRows("operator-action.v1") >= 2, TimeSpan.FromSeconds(60)); // a loaded machine: written, not within seconds
        Assert.Equal(2, JournalRows("operator-action.v1"));
        Assert.Equal(3, JournalRows("policy-version.v1"));
    }

    private long JournalRows(string manifest) => _cluster.Nodes.Where(n => n.Config.Cluster.IsGovernor).Sum(n => JournalRows(n, manifest));

    private static long JournalRows(CliCluster.Node node, string manifest)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={node.DbPath}");
        connection.Open();
        using var command = connection.CreateCommand();
        // A node that has journaled nothing yet has no journal table (the plugin creates it on first use).
        command.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'journal'";
        if ((long)command.ExecuteScalar()! == 0) return 0;
        command.CommandText = "SELECT COUNT(*) FROM journal WHERE manifest = @m";
        command.Parameters.AddWithValue("@m", manifest);
        return (long)command.ExecuteScalar()!;
    }

    [Fact]
    public async Task An_invalid_file_is_refused_naming_every_key_and_nothing_changes_and_apply_without_the_token_is_refused()
    {
        await EveryNodeRuns(1);
        var invalid = File("invalid.json", """
            { "MinLevel": 2, "DryRunSubsystems": [ "" ],
              "Policies": { "*": [ { "Metric": "vram_util", "Threshold": 85, "Action": "reduce_batch", "Factor": 0.5 } ] } }
            """);
        var valid = File("valid.json", """{ "RecoveryStep": 0.2 }""");

        var refused = await CliRun.Of("policies", "apply", invalid, "--contact", Contact, "--token", Token);
        var noToken = await CliRun.Of("policies", "apply", valid, "--contact", Contact);
        var wrongToken = await CliRun.Of("policies", "rollback", "1", "--contact", Contact, "--token", Token + "x");

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("Scarcity:Policy:MinLevel", refused.Out);
        Assert.Contains("Scarcity:Policy:Policies:*:0:Threshold", refused.Out);
        Assert.Contains("Scarcity:Policy:DryRunSubsystems:0", refused.Out);
        Assert.True(noToken.ExitCode == 1, noToken.ToString());
        Assert.Contains("needs the operator token", noToken.Err);
        Assert.True(wrongToken.ExitCode == 1, wrongToken.ToString());
        Assert.Contains("the operator token is wrong", wrongToken.Err);
        var history = await CliRun.Of("policies", "history", "--json", "--contact", Contact);
        Assert.Equal(1, history.Json.GetProperty("current").GetInt32());
        // The two refusals by token are journaled as OperatorActions (the invalid file never left the CLI).
        await _cluster.WaitUntil(() => JournalRows("operator-action.v1") >= 2, TimeSpan.FromSeconds(60)); // a loaded machine: written, not within seconds
        Assert.Equal(2, JournalRows("operator-action.v1"));
        await Task.Delay(TimeSpan.FromSeconds(1)); // a version published by mistake would have arrived by now
        AssertEveryNodeRuns(1, p => p.MinLevel == 0.1);

        // The same policy again records nothing.
        var first = await CliRun.Of("policies", "apply", valid, "--contact", Contact, "--token", Token);
        var again = await CliRun.Of("policies", "apply", valid, "--contact", Contact, "--token", Token);
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains("unchanged: version 2 already is this policy", again.Out);
        // A rollback to a version that does not exist is refused by the store.
        var missing = await CliRun.Of("policies", "rollback", "9", "--contact", Contact, "--token", Token);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("no policy version 9", missing.Err);
    }
}
