using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Scarcity.Actors.Contracts;
using Xunit;

namespace Scarcity.Actors.Contracts.Tests;

/// <summary>The fleet budgets' messages and persisted events round-trip by their manifests; older forms still read.</summary>
public sealed class BudgetMessagesSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly DateTimeOffset At = new(2026, 12, 1, 1, 0, 0, TimeSpan.Zero);
    private static readonly ThrottleReason Reason =
        new("budget rack-r12-power: sum(gpu_power_w{rack=r12}) <= 30000 W -> throttle x0.5 (over the limit)", "gpu_power_w", "budget", 33000, double.NaN, 30000);
    private static readonly JsonSerializerOptions Compare = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public BudgetMessagesSpecs() : base(ScarcitySerialization.Config)
    {
    }

    private static string Json(object o) => JsonSerializer.Serialize(o, o.GetType(), Compare);

    public static IEnumerable<object[]> Messages()
    {
        var cap = new ApplyBudgetCap("batch", "rack-r12-power", "throttle", 0.5, Reason, At, "h1", 1);
        var view = new BudgetCapView("batch", "h1", 1, "throttle", 0.5, At);
        var status = new BudgetStatus("rack-r12-power", "gpu_power_w", "sum", "rack=r12", 33000, 30000, "W", "over", ["h1", "h2"], ["h3 (last reading 40 s old)"],
            [view], At);
        yield return [new HostLabels("h1", ImmutableDictionary<string, string>.Empty.Add("rack", "r12"), At), "host-labels.v1"];
        yield return [cap, "apply-budget-cap.v1"];
        yield return [GetBudgets.Instance, "get-budgets.v1"];
        yield return [view, "budget-cap-view.v1"];
        yield return [status, "budget-status.v1"];
        yield return [status with { Value = double.NaN, State = "no-data" }, "budget-status.v1"];
        yield return [new BudgetsStatus("akka.tcp://scarcity@127.0.0.1:4053", [status]), "budgets-status.v1"];
        yield return [new ActuatorSnapshot(9, ImmutableDictionary<string, double>.Empty.Add("throttle", 1), ImmutableDictionary<string, DateTimeOffset>.Empty,
            BudgetCaps: [cap]), "actuator-snapshot.v1"];
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Each_round_trips_by_its_stable_manifest(object message, string manifest)
    {
        var (written, back) = ManifestRoundTrip.Of(Sys, message);
        Assert.Equal(manifest, written);

        Assert.Equal(message.GetType(), back.GetType());
        Assert.Equal(Json(message), Json(back));
    }

    [Fact]
    public void An_actuator_snapshot_written_before_budgets_reads_with_no_caps()
    {
        var serializer = (ScarcitySerializer)Sys.Serialization.FindSerializerFor(GetBudgets.Instance);
        var older = """{"sequence":7,"levels":{"reduce_batch":0.5},"lastChanges":{},"registration":null,"model":null}""";

        var snapshot = Assert.IsType<ActuatorSnapshot>(serializer.FromBinary(Encoding.UTF8.GetBytes(older), "actuator-snapshot.v1"));

        Assert.Null(snapshot.BudgetCaps);
        Assert.Equal(0.5, snapshot.Levels["reduce_batch"]);
    }

    [Fact]
    public void A_budget_cap_routes_to_its_subsystem_and_host_labels_to_their_host()
    {
        Assert.Equal("batch", ((IWithSubsystem)new ApplyBudgetCap("batch", "b", "throttle", 0.5, Reason, At)).Subsystem);
        Assert.Equal("h1", ((IWithHost)new HostLabels("h1", ImmutableDictionary<string, string>.Empty, At)).Host);
    }
}
