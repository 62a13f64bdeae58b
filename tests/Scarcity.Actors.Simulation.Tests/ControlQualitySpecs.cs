using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Simulation;
using Scarcity.Actors.Simulation.ClosedLoop;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.Simulation.Tests;

/// <summary>
/// Issue 11's qualitative behaviour of the default governor in closed loop with the engine model, <c>--delay 1</c>: no
/// OOM on the public scenarios, no crash loop, nothing recovers while the engine is down, latency admission keeps
/// traffic-burst under its objective. The figures themselves are a benchmark (docs/control-quality.md), not pinned here.
/// </summary>
public sealed class ControlQualitySpecs(ITestOutputHelper output)
{
    private static readonly string[] PublishedFiles = ["random-walk-a.csv", "random-walk-b.csv", "sawtooth.csv", "context-steps.csv"];

    private static Scenario File(string name) => ScenarioFile.Load(Path.Combine(ClosedLoopSpecs.ScenarioFolder(), name));

    private SimulatedRun Run(Scenario scenario, DRGConfig? config = null, PolicyGovernor? governor = null)
    {
        var run = ClosedLoopRunner.Run(scenario, governor ?? new PolicyGovernor(config ?? new DRGConfig()), delay: 1);
        var oracle = ClosedLoopRunner.Run(scenario, OracleGovernor.Instance);
        output.WriteLine($"{scenario.Name}: {run.Scores} good/oracle {run.Scores.GoodRequests / oracle.Scores.GoodRequests:0.###}");
        return run;
    }

    [Fact]
    public void No_public_scenario_runs_out_of_memory()
    {
        foreach (var scenario in Scenario.Public.Concat(PublishedFiles.Select(File)))
            Assert.True(Run(scenario).Scores.Ooms == 0, scenario.Name);
    }

    [Theory]
    [InlineData("sawtooth.csv", 1.0)]
    [InlineData("context-steps.csv", 1.0)]
    [InlineData("context-steps.csv", 0.5)]
    public void The_allocator_returning_memory_after_a_cut_or_a_fall_of_the_context_neither_distrusts_nor_misleads_the_model(string file, double initialLevel)
    {
        // The context falls at once (sawtooth's drops, context-steps' 2.4k -> 1.0k), or a raise is cut at once: VRAM reads
        // what the allocator still holds, falling slowly. Those readings contradict no prediction and are not fitted; taken
        // for the batch's own they distrusted a right model and handed the batch to the rules' x0.5 cuts, and (with the
        // prior level) kept it from becoming confident, so the rules' recovery raised the batch until a step ran out of memory.
        var governor = new PolicyGovernor(new DRGConfig { Policy = { LearnedInitialLevel = initialLevel } });
        var run = Run(File(file), governor: governor);

        Assert.Equal(0, run.Scores.Ooms);
        Assert.Equal(0, governor.Policy.Model!.Distrusted);
        Assert.DoesNotContain(governor.Decisions, d => d.Change.Action == ActionNames.ReduceBatch && d.Change.Reason.Rule.StartsWith("vram_util", StringComparison.Ordinal)
                                                        && d.Seconds > 60);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.5)]
    public void A_step_somewhat_larger_than_any_seen_at_a_load_that_needs_all_that_fits_does_not_run_out_of_memory(double initialLevel)
    {
        // The steps family's y: 8 requests/s at 0.8k tokens, 2.0k at 30 s (a rise of 1.2k), 1.2k at 90 s with 12 requests/s
        // (more than fits at 1.2k: admission rations, the batch runs at all that fits the plan), then 2.5k at 130 s, a
        // rise of 1.3k, larger than the one seen. Planned at the rise seen, the batch ran out of memory in that step.
        var scenario = new Scenario("steps-y", TimeSpan.FromSeconds(190), t => t switch
        {
            < 30 => new ScenarioInput(8, 0.8),
            < 90 => new ScenarioInput(8, 2.0),
            < 130 => new ScenarioInput(12, 1.2),
            _ => new ScenarioInput(12, 2.5),
        });

        var run = Run(scenario, new DRGConfig { Policy = { LearnedInitialLevel = initialLevel } });

        Assert.Equal(0, run.Scores.Ooms);
        Assert.Contains(run.Steps, s => s.Seconds is >= 120 and < 130 && s.Levels.Throttle < 1); // the load needed all that fit
    }

    [Fact]
    public void A_step_back_up_after_a_fall_of_that_size_does_not_run_out_of_memory()
    {
        // The steps family's r2: 2.9k tokens from the start, a fall to 1.6k at 33 s, then 2.3k at 16 requests/s at 73 s, more
        // than any batch serves (the load needs all that fits). No rise was ever seen, so nothing was planned and the batch
        // recovered to what fits 1.6k: out of memory at 73 s. The fall below all reported before is the evidence.
        var run = Run(Steps("fall-then-step", 120, (0, 19, 2.9), (33, 7, 1.6), (73, 16, 2.3)));

        Assert.Equal(0, run.Scores.Ooms);
        Assert.Contains(run.Steps, s => s.Seconds >= 80 && s.Levels.Throttle < 1); // the load needed all that fit
    }

    [Fact]
    public void Once_the_context_has_stepped_a_step_back_to_the_largest_context_reported_does_not_run_out_of_memory_however_long_ago()
    {
        // 2.9k tokens, then 1.1k for 210 s at a load that needs all that fits, then 2.6k: the fall was remembered as a rise
        // of 1.8k halved every 300 s, planned at 2.2k by then, and the step back ran out of memory. A context that has
        // stepped may step back to where it was.
        var run = Run(Steps("back-to-the-top", 270, (0, 15, 2.9), (30, 14, 1.1), (240, 15, 2.6)));

        Assert.Equal(0, run.Scores.Ooms);
    }

    [Fact]
    public void The_more_levels_the_context_has_stepped_between_the_less_is_planned_past_the_largest_reported()
    {
        // At 16 requests/s (the load needs all that fits) the context steps 2.5k -> 1.2k (a fall of 1.3k: a step back up
        // may be as large, planned at 1.25 x 1.3k), then to 2.2k. After those two changes 2.2k is planned half that rise
        // past 2.5k (3.3k; before session 12 three quarters, 3.7k); after six changes between 2.5k and 1.2k, 2.5k bounds
        // where the next one goes better and less is planned past it (2.85k): a larger batch at 2.2k, which still fits 2.5k.
        var once = Run(Steps("one-step", 180, (0, 16, 2.5), (40, 16, 1.2), (80, 16, 2.2)));
        var often = Run(Steps("five-steps", 340, (0, 16, 2.5), (40, 16, 1.2), (80, 16, 2.5), (120, 16, 1.2), (160, 16, 2.5), (200, 16, 1.2), (240, 16, 2.2)));

        static IEnumerable<int> Batches(SimulatedRun r, double from) => r.Steps.Where(s => s.Seconds >= from + 20 && s.Seconds < from + 100).Select(s => s.Batch);
        static double MeanBatch(SimulatedRun r, double from) => Batches(r, from).Average();
        var afterOne = MeanBatch(once, 80);
        var afterFive = MeanBatch(often, 240);
        output.WriteLine($"mean batch at 2.2k: after one step {afterOne:0.0}, after five {afterFive:0.0}");
        Assert.Equal(0, once.Scores.Ooms);
        Assert.Equal(0, often.Scores.Ooms);
        Assert.True(afterFive >= 1.1 * afterOne, $"after five steps the batch at 2.2k was {afterFive:0.0}, after one {afterOne:0.0}");
        var largest = Batches(often, 240).Max();
        Assert.True(InferenceEngineModel.Weights + InferenceEngineModel.Kv * largest * 2.5 <= 1, $"a batch of {largest} does not fit 2.5k");
    }

    [Fact]
    public void A_forecast_over_the_threshold_that_the_governors_own_raise_explains_does_not_cut_while_the_reading_stays_under_it()
    {
        // 15 requests/s at 1.4k tokens from the start: more than the prior half batch serves, so the load raises the batch
        // step by step while the model is not confident yet. The allocator grows to each new batch within a reading and
        // stays under the rule's 0.85, but the Kalman forecast extrapolates the growth past it: taken as evidence, the
        // rule halved the batch half a second after each raise. It now waits until the raise has settled (2 s), and cuts
        // only if the forecast is still over the threshold then.
        var governor = new PolicyGovernor(new DRGConfig());
        var run = Run(Steps("start-at-load", 30, (0, 15, 1.4)), governor: governor);

        var batchDecisions = governor.Decisions.Where(d => d.Change.Action == ActionNames.ReduceBatch).ToList();
        Assert.Contains(batchDecisions, d => d.Change.Level > d.Change.PreviousLevel); // the load raised the batch
        var ruleCuts = batchDecisions.Where(d => d.Change.Reason.Rule.StartsWith(MetricNames.VramUtil + " forecast", StringComparison.Ordinal)).ToList();
        foreach (var cut in ruleCuts)
        {
            // The hold applies while the raise is the last change: the decision on reduce_batch right before the cut.
            var before = batchDecisions.LastOrDefault(d => d.Seconds < cut.Seconds);
            if (before is null || before.Change.Level <= before.Change.PreviousLevel) continue;
            var reading = run.Steps.Last(s => s.Seconds < cut.Seconds).Reserved; // what the governor read when it cut
            output.WriteLine($"rule cut at {cut.Seconds} s, {cut.Seconds - before.Seconds} s after a raise, VRAM read {reading:0.###}");
            Assert.True(cut.Seconds - before.Seconds >= 2 || reading > 0.85,
                $"the rule cut at {cut.Seconds} s, {cut.Seconds - before.Seconds} s after the raise, with VRAM at {reading:0.###}");
        }
        Assert.Equal(0, run.Scores.Ooms);
    }

    [Fact]
    public void A_planned_rise_is_cut_for_before_the_model_is_confident()
    {
        // 2.0k tokens at 18 requests/s (the rules' threshold and the load hold the batch, so the model sees one level and
        // stays unconfident), 2.5k at 54 s, 2.8k at 109 s. The level fitted 2.5k, and nothing applied the rise seen at 54 s
        // to it: out of memory at 109 s.
        var governor = new PolicyGovernor(new DRGConfig());
        var run = Run(Steps("unconfident-step", 150, (0, 18, 2.0), (54, 8, 2.5), (109, 11, 2.8)), governor: governor);

        Assert.Equal(0, run.Scores.Ooms);
        Assert.Contains(governor.Decisions, d => d.Seconds < 109 && d.Change.Action == ActionNames.ReduceBatch
                                                 && d.Change.Reason.Signal == SubsystemPolicy.HeadroomSignal
                                                 && d.Change.Reason.Rule.StartsWith("headroom for a step: ", StringComparison.Ordinal));
    }

    [Fact]
    public void After_a_crash_that_a_step_explains_the_batch_is_not_held_at_half_of_what_fitted_before_it()
    {
        // 16 requests/s (the load needs all that fits) at 1.6k, a first step to 2.3k at 60 s (the OOM nothing could size),
        // then 1.3k from 120 s. The engine ran at about 62 of 64 before the step: that state fitted. Half of it at the
        // planned context is a batch of about 23, and the rules' recovery and that limit alternated at 16 for the rest of the run.
        var run = Run(Steps("explained-crash", 240, (0, 16, 1.6), (60, 16, 2.3), (120, 16, 1.3)));

        Assert.Equal(1, run.Scores.Ooms);
        Assert.Equal(60, run.Steps.First(s => s.Oom).Seconds);
        Assert.All(run.Steps.Where(s => s.Seconds >= 200), s => Assert.True(s.Batch >= 30, $"batch {s.Batch} at {s.Seconds} s"));
    }

    private static Scenario Steps(string name, double seconds, params (double From, double Arrivals, double ContextK)[] changes) =>
        ScenarioFile.FromSteps(name, Enumerable.Range(0, (int)(seconds / InferenceEngineModel.Dt))
            .Select(i => changes.Last(c => c.From <= i * InferenceEngineModel.Dt))
            .Select(c => new ScenarioInput(c.Arrivals, c.ContextK))
            .ToList());

    [Fact]
    public void A_sudden_step_of_the_context_under_light_load_runs_in_the_VRAM_the_load_left_free()
    {
        // context-steps: 9 requests/s at 1.0k tokens need a batch of about 30, not the 64 that fit; the context then jumps
        // to 2.4k at 40 s, which a full batch runs out of memory with (0.40 + 0.006 x 64 x 2.4 = 1.32). The batch the load
        // needs leaves that VRAM free: no OOM, and nothing served is lost to the smaller batch.
        var run = Run(File("context-steps.csv"));
        var rulesOnly = Run(File("context-steps.csv"), ClosedLoopSpecs.RulesOnly());

        Assert.Equal(0, run.Scores.Ooms);
        var before = run.Steps.Where(s => s.Seconds is >= 30 and < 40).ToList();
        Assert.All(before, s => Assert.True(s.Batch <= 40, $"batch {s.Batch} at {s.Seconds} s"));
        Assert.All(before, s => Assert.True(s.LatencyMs <= InferenceEngineModel.SloMs, $"latency {s.LatencyMs} ms at {s.Seconds} s"));
        Assert.True(rulesOnly.Scores.Ooms > 0, "the rules alone run out of memory on it");
    }

    [Fact]
    public void A_batch_sized_by_the_load_rises_with_it_to_what_fits()
    {
        // traffic-burst: 8 requests/s need a small batch; from 60 s 25 requests/s need all that fits (64 at 1.2k tokens),
        // and the batch is there within 5 s of the burst, by the queue it left, not by a recovery step every 5 s.
        var governor = new PolicyGovernor(new DRGConfig());
        var run = Run(Scenario.TrafficBurst, governor: governor);

        Assert.True(run.Steps.Where(s => s.Seconds is >= 50 and < 60).Max(s => s.Batch) <= 40);
        Assert.All(run.Steps.Where(s => s.Seconds is >= 65 and < 150), s => Assert.True(s.Batch >= 60, $"batch {s.Batch} at {s.Seconds} s"));
        Assert.Contains(governor.Decisions, d => d.Change.Reason.Signal == SubsystemPolicy.LoadSignal);
    }

    [Fact]
    public void Once_a_step_up_has_crashed_it_every_later_step_up_is_kept_as_headroom()
    {
        // Steps at 20 requests/s (more than any batch serves: the load needs all that fits, so none is left free): 1.0k ->
        // 1.9k at 60 s (the OOM that teaches a rise of 0.9k), 3.0k at 120 s (a rise of 1.1k that fits what was planned),
        // 1.1k at 180 s, 2.3k at 230 s: a rise of 1.2k, more than the crash's but within the 1.1k seen since. Forgetting
        // that rise after a minute ran out of memory a second time. From a full first batch, so that the first step up crashes.
        var run = Run(StepsAfterACrash(), ClosedLoopSpecs.FullFirstBatch());

        Assert.Equal(1, run.Scores.Ooms);
        Assert.Equal(60, run.Steps.First(s => s.Oom).Seconds);
    }

    private static Scenario StepsAfterACrash()
    {
        static double Context(double t) => t < 60 ? 1.0 : t < 120 ? 1.9 : t < 180 ? 3.0 : t < 230 ? 1.1 : 2.3;
        return ScenarioFile.FromSteps("steps-after-a-crash", Enumerable.Range(0, (int)(300 / InferenceEngineModel.Dt))
            .Select(i => new ScenarioInput(20, Context(i * InferenceEngineModel.Dt))).ToList());
    }

    [Fact]
    public void An_engine_that_crashes_in_its_first_step_is_not_crash_looped()
    {
        // The batch of 64 does not fit 1.7k tokens (0.40 + 0.006 x 64 x 1.7 = 1.05): the first step runs out of memory
        // before anything is reported; its registration when it comes back is the crash signal, and the reply carries
        // the hard limit, so the first step back already fits. (With the default prior level, half the batch, the first
        // step fits and nothing runs out of memory at all.)
        var scenario = ScenarioFile.FromSteps("too-long-from-the-start",
            Enumerable.Repeat(new ScenarioInput(10, 1.7), (int)(180 / InferenceEngineModel.Dt)).ToList());

        var run = Run(scenario, ClosedLoopSpecs.FullFirstBatch());
        var rulesOnly = Run(scenario, ClosedLoopSpecs.RulesOnly());
        var byDefault = Run(scenario);

        Assert.Equal(0, byDefault.Scores.Ooms);
        Assert.Equal(1, run.Scores.Ooms);
        Assert.True(rulesOnly.Scores.Ooms > 5, $"the rules alone: {rulesOnly.Scores.Ooms} OOMs");
        Assert.DoesNotContain(run.Steps.Where(s => s.Seconds >= 60), s => s.Down);
    }

    [Fact]
    public void A_restart_after_a_crash_in_the_first_step_runs_at_the_level_its_registration_carries()
    {
        // Like random walks b with seed 77: the starting context (1.63k) does not fit a batch of 64, then it wanders
        // (1.63k -> 2.5k -> 1.0k). With --delay 2 a decision taken after the registration would come too late for the
        // first step back: only the registration reply can keep it from a second OOM from the same cause.
        var steps = Enumerable.Range(0, (int)(240 / InferenceEngineModel.Dt))
            .Select(i => i * InferenceEngineModel.Dt)
            .Select(t => new ScenarioInput(12, t < 120 ? 1.63 + 0.87 * t / 120 : 2.5 - 1.5 * (t - 120) / 120))
            .ToList();
        var scenario = ScenarioFile.FromSteps("does-not-fit-from-the-start", steps);
        var governor = new PolicyGovernor(ClosedLoopSpecs.FullFirstBatch());

        var run = ClosedLoopRunner.Run(scenario, governor, delay: 2);

        Assert.Equal(1, run.Scores.Ooms);
        Assert.True(run.Steps[0].Oom);
        var back = run.Steps.First(s => s.Seconds > 0 && !s.Down);
        Assert.True(back.Levels.ReduceBatch <= 0.5 + 1e-9, $"first step back at {back.Seconds} s ran reduce_batch {back.Levels.ReduceBatch}");
        Assert.Contains(governor.Decisions, d => d.Change.Reason.Signal == "crash" && d.Change.Reason.Rule.StartsWith("registered again", StringComparison.Ordinal));
    }

    [Fact]
    public void Nothing_recovers_while_the_engine_is_down()
    {
        foreach (var scenario in new[] { StepsAfterACrash(), ScenarioFile.FromSteps("too-long",
                     Enumerable.Repeat(new ScenarioInput(10, 1.7), (int)(120 / InferenceEngineModel.Dt)).ToList()) })
        {
            var governor = new PolicyGovernor(ClosedLoopSpecs.FullFirstBatch()); // a full first batch: both runs crash
            var run = Run(scenario, governor: governor);

            // Every decision taken while the engine was down (it reports nothing then) lowers a level or holds it.
            // (The step that runs out of memory counts as down, but its decision was taken before it, with the engine up.)
            var down = run.Steps.Where(s => s.Down && !s.Oom).Select(s => s.Seconds).ToHashSet();
            var whileDown = governor.Decisions.Where(d => down.Contains(d.Seconds)).ToList();
            Assert.NotEmpty(down);
            Assert.All(whileDown, d => Assert.True(d.Change.Level <= d.Change.PreviousLevel,
                $"{scenario.Name} at {d.Seconds} s: {d.Change.Action} {d.Change.PreviousLevel} -> {d.Change.Level} ({d.Change.Reason.Rule})"));
        }
    }

    [Fact]
    public void Latency_admission_keeps_traffic_burst_under_its_objective_and_serves_what_capacity_allows()
    {
        var run = Run(Scenario.TrafficBurst);
        var oracle = ClosedLoopRunner.Run(Scenario.TrafficBurst, OracleGovernor.Instance);

        // The old loop spent 240 s over the SLO; the bound is a fifth of it. Good requests: at least 0.9 of the
        // oracle's.
        Assert.True(run.Scores.SecondsOverSlo <= 48, $"{run.Scores.SecondsOverSlo} s over the SLO");
        Assert.True(run.Scores.GoodRequests >= 0.9 * oracle.Scores.GoodRequests);
        // During the burst (25 requests/s, capacity 14/s) it is throttle that admits, not shed_load.
        var burst = run.Steps.Where(s => s.Seconds is > 70 and < 150).ToList();
        Assert.All(burst, s => Assert.Equal(1, s.Levels.ShedLoad));
        Assert.InRange(burst.Average(s => s.Levels.Throttle), 0.45, 0.65);
    }

    [Fact]
    public void Latency_admission_recovers_as_soon_as_the_burst_has_passed()
    {
        var run = Run(Scenario.TrafficBurst);

        // The burst ends at 150 s: within 5 s everything is admitted again.
        Assert.All(run.Steps.Where(s => s.Seconds >= 155), s => Assert.Equal(1, s.Levels.Throttle));
    }

    [Fact]
    public void A_latency_objective_registered_by_the_subsystem_is_the_one_kept()
    {
        // The same burst with an objective of 250 ms: admission aims at 0.6 x 250 ms.
        var governor = new PolicyGovernor(new DRGConfig());
        governor.Policy.SetLatencyObjective(250);

        var run = Run(Scenario.TrafficBurst, governor: governor);

        var busy = run.Steps.Where(s => s.Seconds is > 70 and < 150).ToList();
        Assert.True(busy.Count(s => s.LatencyMs > 250) < busy.Count / 10, $"{busy.Count(s => s.LatencyMs > 250)} of {busy.Count} steps over 250 ms");
        Assert.Contains(governor.Decisions, d => d.Change.Reason.Rule.Contains("objective 250", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_decision_names_the_model_or_the_rule_that_took_it()
    {
        var governor = new PolicyGovernor(new DRGConfig());
        Run(File("random-walk-b.csv"), governor: governor);

        Assert.All(governor.Decisions, d => Assert.Matches(
            "^(model: vram_util = .* predicts .* margin .*|load needs level .*|first registration, .*|latency admission: predicted latency_ms .* vs target .*|.* -> .* x[0-9.]+|recovery|hard limit .*|silent since .*|registered again .*|headroom for a step: .* predicts .* margin .*)$",
            d.Change.Reason.Rule));
        Assert.All(governor.Decisions.Where(d => d.Change.Reason.Signal == SubsystemPolicy.LoadSignal),
            d => Assert.Matches("^(load needs level|first registration, nothing reported yet: the prior level)", d.Change.Reason.Rule));
        Assert.Contains(governor.Decisions, d => d.Change.Action == ActionNames.ReduceBatch && d.Change.Reason.Signal == "model");
        Assert.Contains(governor.Decisions, d => d.Change.Action == ActionNames.Throttle && d.Change.Reason.Rule.StartsWith("latency admission", StringComparison.Ordinal));
    }

    [Fact]
    public void The_old_behaviour_stays_available_by_configuration()
    {
        var governor = new PolicyGovernor(ClosedLoopSpecs.RulesOnly());

        Run(Scenario.TrafficBurst, governor: governor);

        Assert.DoesNotContain(governor.Decisions, d => d.Change.Reason.Signal == "model" || d.Change.Reason.Rule.StartsWith("latency admission", StringComparison.Ordinal));
        Assert.Contains(governor.Decisions, d => d.Change.Reason.Rule.StartsWith("vram_util forecast > 0.85", StringComparison.Ordinal));
    }
}
