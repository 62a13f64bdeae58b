using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Simulation;
using Scarcity.Actors.Simulation.ClosedLoop;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.Simulation.Tests;

/// <summary>The closed loop of <c>scarcity simulate</c>: no governor, the oracle and the governor's own policy core on the model.</summary>
public sealed class ClosedLoopSpecs(ITestOutputHelper output)
{
    // Pinned from the model document's definitions: any change to the model or the oracle moves them.
    [Theory]
    [InlineData("context-surge", 10, 578.5, 301.75, 582.5, 0)]
    [InlineData("traffic-burst", 0, 0, 239.5, 486.99912510936133, 0)]
    public void No_governor_scores_are_pinned(string scenario, int ooms, double lost, double overSlo, double good, double rejected)
    {
        var run = ClosedLoopRunner.Run(Scenario.Named(scenario)!, Ungoverned.Instance);

        output.WriteLine(run.Scores.ToString());
        Assert.Equal(ooms, run.Scores.Ooms);
        Assert.Equal(lost, run.Scores.RequestsLost, 6);
        Assert.Equal(overSlo, run.Scores.SecondsOverSlo, 6);
        Assert.Equal(good, run.Scores.GoodRequests, 6);
        Assert.Equal(rejected, run.Scores.RequestsRejected, 6);
    }

    [Theory]
    [InlineData("context-surge", 3246.714367527903, 353.28563247207046)]
    [InlineData("traffic-burst", 2876.850393700779, 1053.1496062992073)]
    public void Oracle_scores_are_pinned_and_it_never_OOMs_nor_misses_the_SLO(string scenario, double good, double rejected)
    {
        var run = ClosedLoopRunner.Run(Scenario.Named(scenario)!, OracleGovernor.Instance);

        output.WriteLine(run.Scores.ToString());
        Assert.Equal(0, run.Scores.Ooms);
        Assert.Equal(0, run.Scores.RequestsLost);
        Assert.Equal(0, run.Scores.SecondsOverSlo);
        Assert.Equal(good, run.Scores.GoodRequests, 6);
        Assert.Equal(rejected, run.Scores.RequestsRejected, 6);
    }

    [Fact]
    public void No_governor_on_context_surge_matches_the_model_document_10_OOMs()
    {
        var run = ClosedLoopRunner.Run(Scenario.ContextSurge, Ungoverned.Instance);

        Assert.Equal(10, run.Scores.Ooms);
        Assert.Equal(10, run.Steps.Count(s => s.Oom));
        Assert.Equal(Scenario.ContextSurge.Run().Scores, run.Scores);
    }

    [Fact]
    public void The_default_configuration_keeps_the_public_scenarios_free_of_OOMs()
    {
        foreach (var scenario in Scenario.Public)
        {
            var oracle = ClosedLoopRunner.Run(scenario, OracleGovernor.Instance);
            var ours = ClosedLoopRunner.Run(scenario, new PolicyGovernor(new DRGConfig()), delay: 1);

            output.WriteLine($"{scenario}: {ours.Scores} good/oracle {ours.Scores.GoodRequests / oracle.Scores.GoodRequests:0.###}");
            Assert.Equal(0, ours.Scores.Ooms);
            Assert.Contains(ours.Steps, s => s.Levels.ReduceBatch < 1);
        }
    }

    [Fact]
    public void A_decision_takes_effect_delay_steps_later()
    {
        // Arrange: the first cut of reduce_batch on the demo, without delay (from the full batch: the prior level of a
        // first registration is carried by the registration reply itself, never delayed).
        var governor = new PolicyGovernor(FullFirstBatch());
        var undelayed = ClosedLoopRunner.Run(Scenario.Demo, governor);
        var firstCut = undelayed.Steps.First(s => s.Levels.ReduceBatch < 1).Seconds;

        // Act
        var delayed = ClosedLoopRunner.Run(Scenario.Demo, new PolicyGovernor(FullFirstBatch()), delay: 3);

        // Assert
        Assert.Equal(governor.Decisions[0].Seconds, firstCut);
        Assert.Equal(firstCut + 3 * InferenceEngineModel.Dt, delayed.Steps.First(s => s.Levels.ReduceBatch < 1).Seconds);
    }

    [Fact]
    public void While_down_after_an_OOM_the_engine_reports_nothing_of_its_own()
    {
        // Arrange: a configuration whose only rule never fires, so the engine runs out of memory on context-surge.
        var config = new DRGConfig();
        config.Policy.Policies["*"] = [new Policies.PolicyRule(MetricNames.QueueDepth, 1e9, ActionNames.ShedLoad, 0.5)];
        var governor = new PolicyGovernor(config);
        var own = MetricNames.Labelled(MetricNames.LatencyMs, MetricNames.SubsystemLabel, PolicyGovernor.DefaultSubsystem);
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        // Act: up to 2 s after the first OOM.
        var scenario = ScenarioFile.FromSteps("cut", Enumerable.Range(0, (int)(60.25 / InferenceEngineModel.Dt))
            .Select(i => Scenario.ContextSurge.At(i * InferenceEngineModel.Dt)).ToList());
        var run = ClosedLoopRunner.Run(scenario, governor);

        // Assert: the OOM at 58.25 s; the host's vram_util still reads, the engine's latency is stale since.
        Assert.Equal(58.25, run.Steps.First(s => s.Oom).Seconds);
        var at = start + TimeSpan.FromSeconds(60);
        Assert.True(governor.Profiler.TryGet(own, at, TimeSpan.FromMilliseconds(250), out var latency));
        Assert.True(latency.Stale);
        Assert.True(governor.Profiler.TryGetProfile(own, out var profile));
        Assert.Equal(start + TimeSpan.FromSeconds(58.25), profile.UpdatedAt);
        Assert.True(governor.Profiler.TryGet(MetricNames.VramUtil, at, TimeSpan.FromMilliseconds(250), out var vram));
        Assert.False(vram.Stale);
        Assert.Equal(InferenceEngineModel.Weights, vram.Raw);
        var reported = governor.Profiler.Series.Where(s => s.Contains("subsystem=", StringComparison.Ordinal)).Order().ToList();
        Assert.Equal(["context_k{subsystem=\"inference_engine\"}", "latency_ms{subsystem=\"inference_engine\"}",
            "oom_total{subsystem=\"inference_engine\"}", "queue_depth{subsystem=\"inference_engine\"}"], reported);
    }

    private static DRGConfig Learning() => new();

    /// <summary>The rules alone, as before issue 11 (cluster-config/rules-only.json).</summary>
    /// <summary>The default configuration but a full batch at the first registration (LearnedInitialLevel 1, the default before
    /// session 6): for the specs of what happens when a first step does not fit, or of the first decision's timing.</summary>
    internal static DRGConfig FullFirstBatch() => new() { Policy = { LearnedInitialLevel = 1 } };

    internal static DRGConfig RulesOnly() => new() { Policy = { LearnBatchResponse = false, LatencyAdmission = false, IneffectiveAfterCuts = 0, RecoveryDelaysEscalation = true } };

    [Fact]
    public void The_step_safe_bound_is_the_oracle_held_to_the_batch_that_fits_the_largest_context()
    {
        // traffic-burst's context never moves: the bound is the oracle. context-steps' reaches 2.8k (a batch of 35): the bound
        // runs no batch over 35, never runs out of memory, and serves less than the oracle, which runs 64 at 1.0k.
        var burst = Scenario.TrafficBurst;
        Assert.Equal(ClosedLoopRunner.Run(burst, OracleGovernor.Instance).Scores, ClosedLoopRunner.Run(burst, new StepSafeOracleGovernor(burst)).Scores);

        var steps = ScenarioFile.Load(Path.Combine(ScenarioFolder(), "context-steps.csv"));
        var oracle = ClosedLoopRunner.Run(steps, OracleGovernor.Instance);
        var bound = ClosedLoopRunner.Run(steps, new StepSafeOracleGovernor(steps));
        output.WriteLine($"oracle {oracle.Scores}; step-safe {bound.Scores}");
        Assert.Equal(35, Oracle.Batch(2.8));
        Assert.All(bound.Steps, s => Assert.True(s.Batch <= 35, $"batch {s.Batch} at {s.Seconds} s"));
        Assert.Contains(oracle.Steps, s => s.Batch == 64);
        Assert.Equal(0, bound.Scores.Ooms);
        Assert.InRange(bound.Scores.GoodRequests, 0.9 * oracle.Scores.GoodRequests, oracle.Scores.GoodRequests - 1);
    }

    [Fact]
    public void Learning_the_batch_response_ends_the_crash_loop_of_sudden_context_steps()
    {
        var scenario = ScenarioFile.Load(Path.Combine(ScenarioFolder(), "context-steps.csv"));

        var rules = ClosedLoopRunner.Run(scenario, new PolicyGovernor(RulesOnly()), delay: 1);
        var learned = ClosedLoopRunner.Run(scenario, new PolicyGovernor(Learning()), delay: 1);

        // Two steps up arrive while VRAM reads 0.78: each costs one OOM without foresight, never a second.
        output.WriteLine($"rules {rules.Scores}; learned {learned.Scores}");
        Assert.Equal(9, rules.Scores.Ooms);
        Assert.InRange(learned.Scores.Ooms, 0, 2);
    }

    [Fact]
    public void Learning_the_batch_response_never_recovers_a_level_while_the_engine_is_down()
    {
        foreach (var file in new[] { "context-steps.csv", "random-walk-b.csv" })
        {
            var run = ClosedLoopRunner.Run(ScenarioFile.Load(Path.Combine(ScenarioFolder(), file)), new PolicyGovernor(Learning()), delay: 1);

            // Levels decided while down reach the engine a step later; none of them is higher than the one before.
            var pairs = run.Steps.Zip(run.Steps.Skip(1).Zip(run.Steps.Skip(2)));
            Assert.All(pairs.Where(p => p.First.Down && p.Second.First.Down), p =>
                Assert.True(p.Second.Second.Levels.ReduceBatch <= p.Second.First.Levels.ReduceBatch + 1e-12, $"{file} at {p.Second.Second.Seconds} s"));
        }
    }

    [Fact]
    public void Learning_the_batch_response_keeps_the_public_scenarios_free_of_OOMs_and_serves_more_of_context_surge()
    {
        foreach (var scenario in Scenario.Public)
            Assert.Equal(0, ClosedLoopRunner.Run(scenario, new PolicyGovernor(Learning()), delay: 1).Scores.Ooms);

        var rules = ClosedLoopRunner.Run(Scenario.ContextSurge, new PolicyGovernor(RulesOnly()), delay: 1);
        var learned = ClosedLoopRunner.Run(Scenario.ContextSurge, new PolicyGovernor(Learning()), delay: 1);
        output.WriteLine($"rules {rules.Scores}; learned {learned.Scores}");
        Assert.True(learned.Scores.GoodRequests > rules.Scores.GoodRequests);
    }

    internal static string ScenarioFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Scarcity.Actors.sln"))) return Path.Combine(dir.FullName, "tests", "scenarios");
        throw new DirectoryNotFoundException("no Scarcity.Actors.sln above " + AppContext.BaseDirectory);
    }
}
