using System.Collections.Immutable;
using System.Text.Json;
using Scarcity.Actors.Contracts;
using Xunit;

namespace Scarcity.Actors.Contracts.Tests;

/// <summary>Every operations message round-trips through <see cref="ScarcitySerializer"/> by its manifest.</summary>
public sealed class OperationsMessagesSpecs() : Akka.TestKit.Xunit2.TestKit(ScarcitySerialization.Config)
{
    private static readonly DateTimeOffset At = new(2026, 11, 27, 5, 0, 0, TimeSpan.FromHours(1));

    public static IEnumerable<object[]> Messages()
    {
        var reason = new ThrottleReason("vram_util forecast > 0.85 -> reduce_batch x0.5", "vram_util", "forecast", 0.91, 0.91, 0.85);
        var decision = new Decision("engine", "gpu-01", "reduce_batch", 1, 0.5, 7, reason, At,
            ImmutableDictionary<string, double>.Empty.Add("vram_util:forecast", 0.94), true, "");
        var member = new ClusterMember("akka.tcp://scarcity@127.0.0.1:4053", "Up", ["governor", "sensor"], true);
        var rule = new PolicyRuleView("vram_util", "forecast", "above", 0.85, 0.8, "reduce_batch", 0.5, 1, TimeSpan.FromSeconds(3), "vram_util forecast > 0.85 -> reduce_batch x0.5");
        object[] all =
        [
            GetClusterState.Instance, member,
            new ClusterState(member.Address, member.Address, [member], ["akka.tcp://scarcity@127.0.0.1:4054"]),
            new LeaveMember(member.Address), new DownMember(member.Address), DownUnreachable.Instance,
            new LeaveMember(member.Address, new OperatorCredential("alice@ops", "0123456789abcdef")),
            new DownUnreachable(new OperatorCredential("alice@ops", "0123456789abcdef")),
            new OperationDone("down", [member.Address], "marked down"), new OperationFailed("leave", "not a member"),
            GetPolicies.Instance, rule,
            new PolicySettings(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10), 0.1, 0.1, 4, ["flush_cache"]),
            new PolicySet(new PolicySettings(TimeSpan.FromSeconds(5), TimeSpan.Zero, 0.1, 0.1, 4, []), false,
                ImmutableDictionary<string, ImmutableArray<PolicyRuleView>>.Empty.Add("*", [rule])),
            new GetDecisions(At, "engine", 50), new GetDecisions(null, null, 10, LocalOnly: true),
            new JournaledDecision("actuator-engine", 3, decision),
            new DecisionPage([new JournaledDecision("actuator-engine", 3, decision)], ["akka.tcp://scarcity@h:1: timed out"]),
            GetFleetStatus.Instance,
        ];
        return all.Select(m => new[] { m });
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Round_trips_by_its_manifest(object message)
    {
        var (_, back) = ManifestRoundTrip.Of(Sys, message);

        Assert.Equal(message.GetType(), back.GetType());
        Assert.Equal(JsonSerializer.Serialize(message, message.GetType()), JsonSerializer.Serialize(back, back.GetType()));
    }
}
