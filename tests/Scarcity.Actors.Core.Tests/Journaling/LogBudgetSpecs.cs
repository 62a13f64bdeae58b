using Scarcity.Actors.Journaling;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Journaling;

public sealed class LogBudgetSpecs
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_storm_logs_the_windows_first_lines_says_when_the_budget_is_spent_and_the_next_window_says_how_many_were_left_out()
    {
        var budget = new LogBudget(3, TimeSpan.FromSeconds(10));

        // 500 hosts turning stale within a second.
        var verdicts = Enumerable.Range(0, 500).Select(i => budget.Take(T0.AddMilliseconds(i * 2))).ToList();

        Assert.Equal([true, true, true], verdicts.Take(3).Select(v => v.Log));
        Assert.Equal([false, false, true], verdicts.Take(3).Select(v => v.LastOfWindow));
        Assert.All(verdicts.Skip(3), v => Assert.False(v.Log));
        Assert.All(verdicts, v => Assert.Equal(0, v.LeftOutBefore));

        var next = budget.Take(T0.AddSeconds(12)); // a later window
        Assert.Equal(new LogBudget.Verdict(true, 497, false), next);
        Assert.Equal(new LogBudget.Verdict(true, 0, false), budget.Take(T0.AddSeconds(13)));
    }

    [Fact]
    public void Events_that_never_fill_a_window_are_all_logged()
    {
        var budget = new LogBudget(20, TimeSpan.FromSeconds(10));

        var verdicts = Enumerable.Range(0, 60).Select(i => budget.Take(T0.AddSeconds(i))).ToList(); // one a second

        Assert.All(verdicts, v => Assert.Equal(new LogBudget.Verdict(true, 0, false), v));
    }

    [Fact]
    public void A_clock_that_steps_back_starts_a_new_window_instead_of_silencing_the_log()
    {
        var budget = new LogBudget(1, TimeSpan.FromSeconds(10));
        Assert.True(budget.Take(T0).Log);
        Assert.False(budget.Take(T0.AddSeconds(1)).Log);

        Assert.Equal(new LogBudget.Verdict(true, 1, true), budget.Take(T0.AddSeconds(-60)));
    }

    [Theory]
    [InlineData(0, 10)]
    [InlineData(5, 0)]
    public void A_budget_of_no_lines_or_no_window_is_refused_naming_it(int lines, int seconds)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new LogBudget(lines, TimeSpan.FromSeconds(seconds)));
        Assert.Contains(lines < 1 ? "lines" : "window", error.ParamName);
    }
}
