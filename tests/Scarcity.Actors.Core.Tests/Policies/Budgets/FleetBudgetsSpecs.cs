using System.Collections.Immutable;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Policies.Budgets;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Policies.Budgets;

/// <summary>The evaluation of fleet budgets without actors: aggregates, host selection, staleness, order and hysteresis.</summary>
public sealed class FleetBudgetsSpecs
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    private static FleetBudget RackPower(double limit = 30000, BudgetAggregate aggregate = BudgetAggregate.Sum) => new()
    {
        Name = "rack-r12-power", Metric = MetricNames.GpuPowerW, Aggregate = aggregate, Limit = limit,
        Selector = new() { ["rack"] = "r12" }, Action = ActionNames.Throttle, Step = 0.5, MinLevel = 0.25,
        Hold = TimeSpan.FromSeconds(10), RecoveryHold = TimeSpan.FromSeconds(30), ReleaseMargin = 0.1, ExcludeAfter = TimeSpan.FromSeconds(30),
    };

    private sealed class Fleet
    {
        public readonly Dictionary<string, BudgetHost> Hosts = new(StringComparer.Ordinal);
        public readonly Dictionary<string, BudgetSubsystem> Subsystems = new(StringComparer.Ordinal);

        public Fleet Host(string host, string rack, double watts, DateTimeOffset at)
        {
            var estimate = new MetricEstimate(watts, watts, watts, 0, watts, 0, at, false);
            Hosts[host] = new BudgetHost(ImmutableDictionary<string, string>.Empty.Add("rack", rack),
                new HostProfile(host, at, PressureLevel.Green, ImmutableDictionary<string, MetricEstimate>.Empty.Add(MetricNames.GpuPowerW, estimate)));
            return this;
        }

        public Fleet Subsystem(string name, string host, int priority, params string[] actions)
        {
            Subsystems[name] = new BudgetSubsystem(name, host, priority, actions.Length == 0 ? [ActionNames.Throttle] : actions);
            return this;
        }

        /// <summary>Every host of rack r12 at <paramref name="watts"/>, read at <paramref name="at"/>.</summary>
        public Fleet Rack(double watts, DateTimeOffset at) => Host("h1", "r12", watts, at).Host("h2", "r12", watts, at).Host("h3", "r12", watts, at);
    }

    private static Fleet ThreeSubsystems(DateTimeOffset at, double watts) =>
        new Fleet().Rack(watts, at).Host("other", "r13", 50000, at)
            .Subsystem("batch", "h1", 1).Subsystem("discovery", "h2", 5).Subsystem("inference", "h3", 10).Subsystem("elsewhere", "other", 0);

    [Theory]
    [InlineData(BudgetAggregate.Sum, 27000)]
    [InlineData(BudgetAggregate.Mean, 9000)]
    [InlineData(BudgetAggregate.Max, 12000)]
    public void The_aggregate_covers_only_the_hosts_the_selector_picks(BudgetAggregate aggregate, double expected)
    {
        var fleet = new Fleet().Host("h1", "r12", 6000, T0).Host("h2", "r12", 9000, T0).Host("h3", "r12", 12000, T0).Host("x", "r13", 99000, T0);
        var budgets = new FleetBudgets([RackPower(1e9, aggregate)]);

        budgets.Evaluate(T0, fleet.Hosts, fleet.Subsystems);

        var status = Assert.Single(budgets.Status(T0));
        Assert.Equal(expected, status.Value, 6);
        Assert.Equal(["h1", "h2", "h3"], status.Hosts.ToArray());
        Assert.Equal("ok", status.State);
    }

    [Fact]
    public void Over_the_limit_the_lowest_priority_subsystem_on_the_selected_hosts_is_cut_first_and_the_next_only_after_the_hold()
    {
        var budgets = new FleetBudgets([RackPower()]);
        var fleet = ThreeSubsystems(T0, 11000); // 33 kW > 30 kW

        var first = Assert.Single(budgets.Evaluate(T0, fleet.Hosts, fleet.Subsystems));
        Assert.Equal(("batch", 1.0, 0.5), (first.Subsystem, first.PreviousLevel, first.Level));
        Assert.Equal(ActionNames.Throttle, first.Action);
        Assert.Contains("rack-r12-power", first.Reason.Rule);
        Assert.Equal(33000, first.Reason.Value, 6);

        // Within the hold: nothing more, however far over.
        Assert.Empty(budgets.Evaluate(T0.AddSeconds(9), ThreeSubsystems(T0.AddSeconds(9), 11000).Hosts, fleet.Subsystems));

        // Still over after the hold: the same subsystem down to its floor, then the next priority up.
        var cuts = new List<BudgetCapChange>();
        for (var s = 10; s <= 40; s += 10)
            cuts.AddRange(budgets.Evaluate(T0.AddSeconds(s), ThreeSubsystems(T0.AddSeconds(s), 11000).Hosts, fleet.Subsystems));
        Assert.Equal([("batch", 0.25), ("discovery", 0.5), ("discovery", 0.25), ("inference", 0.5)], cuts.Select(c => (c.Subsystem, c.Level)));
        Assert.DoesNotContain(cuts, c => c.Subsystem == "elsewhere"); // on a host of another rack

        var status = Assert.Single(budgets.Status(T0.AddSeconds(40)));
        Assert.Equal("over", status.State);
        Assert.Equal(["batch", "discovery", "inference"], status.Caps.Select(c => c.Subsystem));
    }

    [Fact]
    public void Under_the_limit_but_above_the_release_line_the_caps_hold()
    {
        var budgets = new FleetBudgets([RackPower()]);
        var fleet = ThreeSubsystems(T0, 11000);
        budgets.Evaluate(T0, fleet.Hosts, fleet.Subsystems);

        // 28.5 kW: under 30 kW but above the release line (27 kW with a 10 % margin), for long.
        for (var s = 10; s <= 300; s += 10)
            Assert.Empty(budgets.Evaluate(T0.AddSeconds(s), ThreeSubsystems(T0.AddSeconds(s), 9500).Hosts, fleet.Subsystems));
        Assert.Equal("holding", Assert.Single(budgets.Status(T0.AddSeconds(300))).State);
    }

    [Fact]
    public void Under_the_release_line_caps_are_released_after_the_recovery_hold_highest_priority_first()
    {
        var budgets = new FleetBudgets([RackPower()]);
        var fleet = ThreeSubsystems(T0, 11000);
        for (var s = 0; s <= 20; s += 10) budgets.Evaluate(T0.AddSeconds(s), ThreeSubsystems(T0.AddSeconds(s), 11000).Hosts, fleet.Subsystems);
        // Now: batch 0.25, discovery 0.5.

        var releases = new List<(double Second, BudgetCapChange Change)>();
        for (var s = 21; s <= 200; s++)
            releases.AddRange(budgets.Evaluate(T0.AddSeconds(s), ThreeSubsystems(T0.AddSeconds(s), 8000).Hosts, fleet.Subsystems).Select(c => ((double)s, c)));

        Assert.Equal([("discovery", 1.0), ("batch", 0.5), ("batch", 1.0)], releases.Select(r => (r.Change.Subsystem, r.Change.Level)));
        Assert.Equal([51.0, 81.0, 111.0], releases.Select(r => r.Second)); // 30 s under the line, then one step per 30 s
        var status = Assert.Single(budgets.Status(T0.AddSeconds(200)));
        Assert.Empty(status.Caps);
        Assert.Equal("ok", status.State);
    }

    [Fact]
    public void A_stale_host_counts_with_its_last_value_while_young_and_is_left_out_and_reported_after_it_never_as_zero()
    {
        var budgets = new FleetBudgets([RackPower()]);
        // h3's last reading is 20 s old: it still counts, so the rack is over.
        var fleet = new Fleet().Host("h1", "r12", 11000, T0.AddSeconds(20)).Host("h2", "r12", 11000, T0.AddSeconds(20)).Host("h3", "r12", 11000, T0)
            .Subsystem("batch", "h1", 1);
        Assert.Single(budgets.Evaluate(T0.AddSeconds(20), fleet.Hosts, fleet.Subsystems));
        Assert.Equal(33000, budgets.Status(T0.AddSeconds(20))[0].Value, 6);

        // 40 s old: left out (22 kW), named; the rack is under the limit but nothing reads it as 0 W.
        fleet.Host("h1", "r12", 11000, T0.AddSeconds(40)).Host("h2", "r12", 11000, T0.AddSeconds(40));
        budgets.Evaluate(T0.AddSeconds(40), fleet.Hosts, fleet.Subsystems);
        var status = budgets.Status(T0.AddSeconds(40))[0];
        Assert.Equal(22000, status.Value, 6);
        Assert.Equal(["h1", "h2"], status.Hosts.ToArray());
        Assert.Equal(["h3 (last reading 40 s old)"], status.StaleHosts.ToArray());
    }

    [Fact]
    public void Without_any_young_reading_nothing_is_released()
    {
        var budgets = new FleetBudgets([RackPower()]);
        var fleet = ThreeSubsystems(T0, 11000);
        budgets.Evaluate(T0, fleet.Hosts, fleet.Subsystems);

        // Every host went silent (its node died): once their readings are older than ExcludeAfter (30 s), no data; the cap
        // holds however long.
        for (var s = 31; s <= 600; s += 10)
            Assert.Empty(budgets.Evaluate(T0.AddSeconds(s), fleet.Hosts, fleet.Subsystems));
        var status = budgets.Status(T0.AddSeconds(600))[0];
        Assert.Equal("no-data", status.State);
        Assert.Single(status.Caps);
    }

    [Fact]
    public void Only_subsystems_that_declared_the_action_are_cut_and_every_one_at_the_floor_means_no_more_cuts()
    {
        var budget = RackPower();
        budget.MinLevel = 0.5;
        var budgets = new FleetBudgets([budget]);
        var fleet = new Fleet().Rack(11000, T0).Subsystem("cannot", "h1", 0, ActionNames.ReduceBatch).Subsystem("can", "h2", 3);

        var cuts = new List<BudgetCapChange>();
        for (var s = 0; s <= 60; s += 10) cuts.AddRange(budgets.Evaluate(T0.AddSeconds(s), new Fleet().Rack(11000, T0.AddSeconds(s)).Hosts, fleet.Subsystems));

        Assert.Equal([("can", 0.5)], cuts.Select(c => (c.Subsystem, c.Level)));
    }

    [Fact]
    public void A_restored_cap_is_kept_until_the_release_rules_say_otherwise_and_an_unknown_subsystem_keeps_its_cap()
    {
        var budgets = new FleetBudgets([RackPower()]);
        Assert.True(budgets.Restore("rack-r12-power", "batch", "h1", 1, 0.25, T0));
        Assert.False(budgets.Restore("gone-budget", "batch", "h1", 1, 0.5, T0));

        // Right after a failover the owner knows no subsystem yet: the cap stays, the next cut waits for the hold.
        Assert.Empty(budgets.Evaluate(T0.AddSeconds(5), new Fleet().Rack(11000, T0.AddSeconds(5)).Hosts, new Dictionary<string, BudgetSubsystem>()));
        Assert.Equal(("batch", ActionNames.Throttle, 0.25), (budgets.Caps.Single().Subsystem, budgets.Caps.Single().Action, budgets.Caps.Single().Level));

        // It knows batch now, on a host whose labels it has not heard yet: the cap stays.
        var unlabelled = new Fleet().Rack(11000, T0.AddSeconds(5)).Subsystem("batch", "z", 1);
        unlabelled.Hosts["z"] = new BudgetHost(null, null);
        Assert.Empty(budgets.Evaluate(T0.AddSeconds(5), unlabelled.Hosts, unlabelled.Subsystems));

        // Once it knows batch moved to a host outside the rack, the cap is released.
        var fleet = new Fleet().Rack(8000, T0.AddSeconds(6)).Host("z", "r13", 1, T0.AddSeconds(6)).Subsystem("batch", "z", 1);
        var release = Assert.Single(budgets.Evaluate(T0.AddSeconds(6), fleet.Hosts, fleet.Subsystems));
        Assert.Equal(("batch", 0.25, 1.0), (release.Subsystem, release.PreviousLevel, release.Level));
    }

    [Fact]
    public void The_age_of_a_reading_counts_from_its_receipt_on_the_owners_clock_whatever_the_hosts_clock_says()
    {
        var budgets = new FleetBudgets([RackPower()]);
        var hostClock = T0.AddMinutes(-10); // the hosts' clock runs 10 minutes behind the owner's
        var fleet = new Fleet().Rack(11000, hostClock).Subsystem("batch", "h1", 1);
        var received = fleet.Hosts.ToDictionary(h => h.Key, h => h.Value with { ReceivedAt = T0 });

        Assert.Single(budgets.Evaluate(T0.AddSeconds(1), received, fleet.Subsystems)); // 1 s old, not 10 min: counted, over
        Assert.Equal(33000, budgets.Status(T0)[0].Value, 6);

        budgets.Evaluate(T0.AddSeconds(31), received, fleet.Subsystems); // nothing received for 31 s: left out
        Assert.Equal(3, budgets.Status(T0)[0].StaleHosts.Length);
    }

    [Fact]
    public void Every_problem_of_a_budget_is_named_by_its_key()
    {
        var bad = new FleetBudget
        {
            Name = "Rack 12", Metric = "gpu_watts", Limit = -1, Action = ActionNames.ScaleUp, Step = 1.5, MinLevel = 0, Hold = TimeSpan.Zero,
            RecoveryHold = TimeSpan.Zero, ReleaseMargin = 1, ExcludeAfter = TimeSpan.Zero, Selector = new() { ["rack"] = "" },
        };
        var config = new PolicyConfig { Budgets = [bad, RackPower(), RackPower()] };

        var problems = config.Validate().ToList();

        foreach (var key in new[] { "0:Name", "0:Metric", "0:Limit", "0:Action", "0:Step", "0:MinLevel", "0:Hold", "0:RecoveryHold", "0:ReleaseMargin", "0:ExcludeAfter", "0:Selector:rack", "2:Name" })
            Assert.Contains(problems, p => p.StartsWith($"Scarcity:Policy:Budgets:{key}", StringComparison.Ordinal));
        Assert.Equal(12, problems.Count);
        Assert.Empty(new PolicyConfig { Budgets = [RackPower()] }.Validate());
    }

    [Fact]
    public void The_display_names_the_budget_its_aggregate_selector_limit_and_action()
    {
        Assert.Equal("budget rack-r12-power: sum(gpu_power_w{rack=r12}) <= 30000 W -> throttle x0.5", RackPower().Display);
    }
}
