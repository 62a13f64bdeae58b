using Scarcity.Actors.Contracts;
using Scarcity.Actors.Operations;
using Scarcity.Actors.Testing;
using Akka.Cluster;
using Xunit;

namespace Scarcity.Actors.Cli.Tests;

/// <summary>
/// cluster leave, down and down-unreachable change the membership of a real cluster, given the operator token the
/// governor nodes are configured with (the sensor node, gpu-c, has none configured).
/// </summary>
public sealed class CliClusterOperationSpecs : IAsyncLifetime
{
    private const string Token = "spec-operator-token-0123456789";
    private CliCluster _cluster = null!;

    public async Task InitializeAsync() =>
        _cluster = await CliCluster.StartAsync(c => c.Operations.OperatorToken = c.Host == "gpu-c" ? "" : Token);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private bool Gone(string address) =>
        Akka.Cluster.Cluster.Get(_cluster.Nodes[0].System).State.Members.All(m => m.Address.ToString() != address);

    [Fact]
    public async Task Leave_then_down_remove_members_and_down_unreachable_with_none_unreachable_downs_nothing()
    {
        var contact = _cluster.Nodes[0].Address;
        var leaving = _cluster.Nodes[2].Address;
        var downed = _cluster.Nodes[1].Address;

        var leave = await CliRun.Of("cluster", "leave", leaving, "--json", "--contact", contact, "--token", Token);

        Assert.True(leave.ExitCode == 0, leave.ToString());
        Assert.Equal("leave", leave.Json.GetProperty("operation").GetString());
        Assert.Equal([leaving], leave.Json.GetProperty("addresses").EnumerateArray().Select(a => a.GetString()!));
        await _cluster.WaitUntil(() => Gone(leaving));

        var down = await CliRun.Of("cluster", "down", downed, "--json", "--contact", contact, "--token", Token, "--operator", "alice@ops");

        Assert.True(down.ExitCode == 0, down.ToString());
        Assert.Equal([downed], down.Json.GetProperty("addresses").EnumerateArray().Select(a => a.GetString()!));
        await _cluster.WaitUntil(() => Gone(downed));

        var none = await CliRun.Of("cluster", "down-unreachable", "--json", "--contact", contact, "--token", Token);

        Assert.True(none.ExitCode == 0, none.ToString());
        Assert.Empty(none.Json.GetProperty("addresses").EnumerateArray());
        var show = await CliRun.Of("cluster", "show", "--json", "--contact", contact);
        Assert.Equal([contact], show.Json.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("address").GetString()!));
    }

    [Fact]
    public async Task Leave_of_an_address_that_is_no_member_fails_naming_it()
    {
        var stranger = $"akka.tcp://scarcity@127.0.0.1:{GovernorHost.FreePort()}";

        var run = await CliRun.Of("cluster", "leave", stranger, "--contact", _cluster.Nodes[0].Address, "--token", Token);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains(stranger, run.Err);
        Assert.All(_cluster.Nodes, n => Assert.Equal(MemberStatus.Up, Akka.Cluster.Cluster.Get(n.System).SelfMember.Status));
    }

    [Fact]
    public async Task Without_the_operator_token_or_with_a_wrong_one_or_on_a_node_with_none_configured_every_change_is_refused()
    {
        var contact = _cluster.Nodes[0].Address;
        var member = _cluster.Nodes[1].Address;

        var none = await CliRun.Of("cluster", "down", member, "--contact", contact);
        var wrong = await CliRun.Of("cluster", "leave", member, "--contact", contact, "--token", Token + "x");
        var unconfigured = await CliRun.Of("cluster", "down-unreachable", "--contact", _cluster.Nodes[2].Address, "--token", Token);

        Assert.True(none.ExitCode == 1, none.ToString());
        Assert.Contains("down needs the operator token: give it with --token or SCARCITY_TOKEN", none.Err);
        Assert.True(wrong.ExitCode == 1, wrong.ToString());
        Assert.Contains("the operator token is wrong", wrong.Err);
        Assert.True(unconfigured.ExitCode == 1, unconfigured.ToString());
        Assert.Contains("none is configured on the governor nodes: set Scarcity:Operations:OperatorToken", unconfigured.Err);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.All(_cluster.Nodes, n => Assert.Equal(3, Akka.Cluster.Cluster.Get(n.System).State.Members.Count(m => m.Status == MemberStatus.Up)));
    }

    [Fact]
    public async Task Every_cluster_change_asked_allowed_or_refused_is_journaled_on_the_node_with_who_asked()
    {
        var node = _cluster.Nodes[0];
        var stranger = $"akka.tcp://scarcity@127.0.0.1:{GovernorHost.FreePort()}";

        var refused = await CliRun.Of("cluster", "down", _cluster.Nodes[1].Address, "--contact", node.Address, "--token", "guess", "--operator", "mallory@laptop");
        var failed = await CliRun.Of("cluster", "leave", stranger, "--contact", node.Address, "--token", Token, "--operator", "alice@ops");
        Assert.True(refused.ExitCode == 1, refused.ToString());
        Assert.True(failed.ExitCode == 1, failed.ToString());

        // Read back as the journal holds them: the node's operator-audit persistence id, in order.
        var persistenceId = OperatorAuditActor.PersistenceIdFor(Akka.Cluster.Cluster.Get(node.System).SelfAddress);
        var actions = new List<OperatorAction>();
        await _cluster.WaitUntil(() =>
        {
            actions = ReadJournal(node, persistenceId);
            return actions.Count >= 2;
        });
        Assert.Equal(("down", "mallory@laptop", false), (actions[0].Operation, actions[0].Operator, actions[0].Allowed));
        Assert.Equal("the operator token is wrong", actions[0].Detail);
        Assert.Equal(("leave", stranger, "alice@ops"), (actions[1].Operation, actions[1].Target, actions[1].Operator));
        Assert.False(actions[1].Allowed); // authorized, but the address is no member: nothing was changed
        Assert.DoesNotContain(Token, actions[1].Detail);
        Assert.All(actions, a => Assert.StartsWith("akka.tcp://", a.Origin));
    }

    [Fact]
    public async Task A_command_received_by_the_sensor_only_node_is_journaled_by_a_governor_saying_which_node_received_it()
    {
        var sensor = _cluster.Nodes[2];
        var sensorAddress = Akka.Cluster.Cluster.Get(sensor.System).SelfAddress.ToString();

        var refused = await CliRun.Of("cluster", "down-unreachable", "--contact", sensor.Address, "--token", Token, "--operator", "bob@ops");
        Assert.True(refused.ExitCode == 1, refused.ToString()); // gpu-c has no operator token configured

        // The sensor node has no database: the oldest Up governor writes the record under its own operator-audit id.
        OperatorAction? recorded = null;
        await _cluster.WaitUntil(() =>
        {
            recorded = _cluster.Nodes.Take(2)
                .SelectMany(n => ReadJournal(n, OperatorAuditActor.PersistenceIdFor(Akka.Cluster.Cluster.Get(n.System).SelfAddress)))
                .FirstOrDefault(a => a.Operator == "bob@ops");
            return recorded is not null;
        });
        Assert.Equal(("down-unreachable", false), (recorded!.Operation, recorded.Allowed));
        Assert.EndsWith($" via {sensorAddress}", recorded.Origin);
        Assert.Contains("none is configured on the governor nodes", recorded.Detail);
    }

    private static List<OperatorAction> ReadJournal(CliCluster.Node node, string persistenceId)
    {
        var actions = new List<OperatorAction>();
        // The journal creates its database file on its first write: a node that has written nothing has none yet.
        if (!File.Exists(node.DbPath)) return actions;
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={node.DbPath};Mode=ReadOnly;Pooling=False");
        try
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT message, manifest FROM journal WHERE persistence_id = @pid ORDER BY sequence_number";
            command.Parameters.AddWithValue("@pid", persistenceId);
            using var reader = command.ExecuteReader();
            while (reader.Read())
                actions.Add((OperatorAction)node.System.Serialization.Deserialize((byte[])reader.GetValue(0), ScarcitySerializer.SerializerId, reader.GetString(1)));
        }
        catch (Microsoft.Data.Sqlite.SqliteException e) when (e.SqliteErrorCode == 14 || e.Message.Contains("no such table", StringComparison.Ordinal))
        {
            // not written yet: the file is being created (SQLITE_CANTOPEN) or has no journal table yet
        }
        return actions;
    }
}
