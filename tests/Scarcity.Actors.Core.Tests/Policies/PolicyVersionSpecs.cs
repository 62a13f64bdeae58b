using System.Collections.Immutable;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Policies;

/// <summary>Policy versions at run time (issue 16): the canonical text, its validation, the diff, levels across versions, dry-run rules.</summary>
public sealed class PolicyVersionSpecs
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly PolicyRule Vram = new(MetricNames.VramUtil, 0.85, ActionNames.ReduceBatch, 0.5) { Signal = SignalKind.Raw, Release = 0.80 };
    private static readonly PolicyRule Cpu = new(MetricNames.CpuUtil, 0.90, ActionNames.Throttle, 0.7) { Signal = SignalKind.Raw, Release = 0.80 };

    private static ImmutableDictionary<string, MetricEstimate> Metrics(double vram, double cpu) => new Dictionary<string, double>
    {
        [MetricNames.VramUtil] = vram, [MetricNames.CpuUtil] = cpu,
    }.ToImmutableDictionary(kv => kv.Key, kv => new MetricEstimate(kv.Value, kv.Value, kv.Value, 0, kv.Value, 0, T0, false));

    private static PolicyConfig Config(params PolicyRule[] rules) => new()
    {
        Cooldown = TimeSpan.FromSeconds(5), IneffectiveAfterCuts = 0, LatencyAdmission = false, LearnBatchResponse = false,
        Policies = new Dictionary<string, List<PolicyRule>>(StringComparer.Ordinal) { ["engine"] = [.. rules] },
    };

    [Fact]
    public void The_canonical_text_binds_back_to_the_same_policy_with_dry_run_fields_and_custom_actions()
    {
        var policy = Config(Vram, Cpu with { DryRun = true, Cooldown = TimeSpan.FromSeconds(3), Priority = 2 });
        policy.CustomActions = ["flush_cache"];
        policy.DryRunSubsystems = ["batch"];
        policy.Policies["batch"] = [new PolicyRule(MetricNames.MemUtil, 0.9, "flush_cache", 0.5)];

        var json = PolicyDocument.ToJson(policy);
        var back = PolicyDocument.Bind(json, out var errors);

        Assert.Empty(errors);
        Assert.NotNull(back);
        Assert.Equal(json, PolicyDocument.ToJson(back));
        Assert.True(back.Policies["engine"][1].DryRun);
        Assert.True(back.IsDryRun("batch"));
        Assert.False(back.IsDryRun("engine"));
        Assert.Empty(PolicyDocument.Diff(policy, back));
    }

    [Fact]
    public void A_policy_with_a_fleet_budget_binds_back_from_its_canonical_text()
    {
        var policy = Config(Vram);
        policy.Budgets = [new Scarcity.Actors.Policies.Budgets.FleetBudget
        {
            Name = "rack-r12-power", Metric = MetricNames.GpuPowerW, Selector = new(StringComparer.Ordinal) { ["rack"] = "r12" }, Limit = 30000,
        }];

        var json = PolicyDocument.ToJson(policy);
        var back = PolicyDocument.Bind(json, out var errors);

        Assert.Empty(errors);
        Assert.Equal(json, PolicyDocument.ToJson(back!));
        Assert.Equal("r12", Assert.Single(back!.Budgets).Selector["rack"]);
    }

    [Fact]
    public void A_bad_policy_text_is_refused_with_every_problem_naming_its_key_as_at_start_up()
    {
        const string json = """
            { "MinLevel": 2, "Colldown": "00:00:05", "DryRunSubsystems": [ " " ],
              "Policies": { "*": [ { "Metric": "vram_util", "Threshold": 85, "Action": "reduce_batch", "Factor": 0.5 } ] } }
            """;

        var policy = PolicyDocument.Bind(json, out var errors);

        Assert.Null(policy);
        Assert.Contains(errors, e => e.StartsWith("Scarcity:Policy:MinLevel", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("Scarcity:Policy:Colldown", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Scarcity:Policy:Policies:*:0:Threshold 85", StringComparison.Ordinal) && e.Contains("percent", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Scarcity:Policy:DryRunSubsystems:0", StringComparison.Ordinal));
        Assert.Single(PolicyDocument.Bind("[1]", out var notObject) is null ? notObject : []);
        Assert.Null(PolicyDocument.Bind("{ \"Cooldown\": ", out var notJson));
        Assert.Contains("not valid JSON", Assert.Single(notJson));
    }

    [Fact]
    public void The_diff_names_changed_settings_by_key_and_rules_removed_and_added_per_subsystem()
    {
        var before = Config(Vram, Cpu);
        var after = Config(Vram with { Threshold = 0.8, Release = 0.75 });
        after.Cooldown = TimeSpan.FromSeconds(3);
        after.DryRun = true;

        var diff = PolicyDocument.Diff(before, after);

        Assert.Contains("Cooldown: 00:00:05 -> 00:00:03", diff);
        Assert.Contains("DryRun: false -> true", diff);
        Assert.Contains($"- engine: {PolicyDocument.Describe(Vram)}", diff);
        Assert.Contains($"- engine: {PolicyDocument.Describe(Cpu)}", diff);
        Assert.Contains($"+ engine: {PolicyDocument.Describe(Vram with { Threshold = 0.8, Release = 0.75 })}", diff);
        Assert.Equal(5, diff.Length);
        Assert.Contains("- *: vram_util forecast > 0.85 -> reduce_batch x0.5", string.Join("\n", PolicyDocument.Diff(new PolicyConfig(), before)));
    }

    [Fact]
    public void A_new_version_keeps_the_levels_and_pacing_of_every_action_that_still_has_a_rule()
    {
        var policy = new SubsystemPolicy("engine", [Vram, Cpu], Config(Vram, Cpu));
        policy.Evaluate(Metrics(0.95, 0.95), T0);
        Assert.Equal(0.5, policy.Levels[ActionNames.ReduceBatch], 9);

        var next = policy.WithRules([Vram with { Threshold = 0.9, Release = 0.85 }, Cpu], Config(), T0.AddSeconds(1), "v2", out var released);

        Assert.Empty(released);
        Assert.Equal(0.5, next.Levels[ActionNames.ReduceBatch], 9);
        Assert.Equal(0.7, next.Levels[ActionNames.Throttle], 9);
        // Still past the new threshold: it cuts again, but only once the cooldown since the last cut has passed.
        Assert.Empty(next.Evaluate(Metrics(0.95, 0.85), T0.AddSeconds(2)));
        var cut = Assert.Single(next.Evaluate(Metrics(0.95, 0.85), T0.AddSeconds(5)), c => c.Action == ActionNames.ReduceBatch);
        Assert.Equal(0.25, cut.Level, 9);
        Assert.Contains("> 0.9", cut.Reason.Rule);
    }

    [Fact]
    public void A_rule_removed_releases_its_action_to_1_at_once_with_the_reason_given()
    {
        var policy = new SubsystemPolicy("engine", [Vram, Cpu], Config(Vram, Cpu));
        policy.Evaluate(Metrics(0.95, 0.95), T0);

        var next = policy.WithRules([Vram], Config(Vram), T0.AddSeconds(1), "policy v2: released", out var released);

        var release = Assert.Single(released);
        Assert.Equal(ActionNames.Throttle, release.Action);
        Assert.Equal(0.7, release.PreviousLevel, 9);
        Assert.Equal(1, release.Level);
        Assert.Equal("policy v2: released", release.Reason.Rule);
        Assert.Equal([ActionNames.ReduceBatch], next.Actions);
        Assert.Equal(0.5, next.Levels[ActionNames.ReduceBatch], 9);
    }

    [Fact]
    public void Dry_run_rules_subsystems_and_candidates_leave_the_live_rules_and_run_in_the_dry_policy()
    {
        var live = Config(Vram, Cpu with { DryRun = true });
        live.Policies["batch"] = [Cpu];
        live.Policies["trainer"] = [Cpu];
        live.DryRunSubsystems = ["trainer"];
        var active = new ActivePolicy(3, live);

        Assert.Equal([Vram], active.LiveRulesFor("engine"));
        Assert.Equal([Vram, Cpu with { DryRun = true }], active.DryFor("engine")!.Rules);
        Assert.Equal([Cpu], active.LiveRulesFor("batch"));
        Assert.Null(active.DryFor("batch"));
        Assert.Empty(active.LiveRulesFor("trainer"));
        Assert.Equal([Cpu], active.DryFor("trainer")!.Rules);

        var candidate = Config(Vram with { Threshold = 0.7, Release = 0.65 });
        candidate.DryRun = true;
        var withCandidate = new ActivePolicy(3, live, 4, candidate);
        Assert.Equal([Vram], withCandidate.LiveRulesFor("engine"));
        var dry = withCandidate.DryFor("engine")!;
        Assert.Equal(4, dry.Version);
        Assert.Equal([Vram with { Threshold = 0.7, Release = 0.65 }], dry.Rules);
    }
}
