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
}
