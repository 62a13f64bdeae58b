using Xunit;
using Scarcity.Actors.Profiling;

namespace Scarcity.Actors.Core.Tests.Profiling;

public sealed class ProfilerConfigSpecs
{
    [Fact]
    public void Defaults_are_the_documented_ones_and_valid()
    {
        var config = new ProfilerConfig();

        Assert.Equal(0.3, config.EmaAlpha);
        Assert.Equal(1e-4, config.KalmanQ);
        Assert.Equal(4e-4, config.KalmanR);
        Assert.Equal(TimeSpan.FromSeconds(5), config.ForecastHorizon);
        Assert.Equal(2.0, config.TrendSignificance);
        Assert.Equal(3, config.StaleAfterIntervals);
        Assert.Equal(TimeSpan.FromSeconds(1), config.ClockStepTolerance);
        Assert.Empty(config.Validate());
    }

    [Fact]
    public void Validate_names_the_key_and_the_bad_value()
    {
        var config = new ProfilerConfig { EmaAlpha = 1.5 };

        var problems = config.Validate().ToList();

        Assert.Equal(["Scarcity:Profiler:EmaAlpha must be in (0, 1], was 1.5"], problems);
    }

    [Fact]
    public void A_negative_clock_step_tolerance_is_rejected_naming_the_key()
    {
        var problems = new ProfilerConfig { ClockStepTolerance = TimeSpan.FromSeconds(-1) }.Validate().ToList();

        Assert.Equal(["Scarcity:Profiler:ClockStepTolerance must not be negative, was -00:00:01"], problems);
    }

    [Fact]
    public void Validate_reports_every_problem_under_the_given_section()
    {
        var config = new ProfilerConfig
        {
            EmaAlpha = 0, KalmanQ = -1, KalmanR = double.NaN, ForecastHorizon = TimeSpan.FromSeconds(-1),
            TrendSignificance = -2, StaleAfterIntervals = 0,
        };

        var problems = config.Validate("Profiler").ToList();

        Assert.Equal(6, problems.Count);
        Assert.All(problems, p => Assert.StartsWith("Profiler:", p));
        Assert.Contains(problems, p => p.StartsWith("Profiler:KalmanQ", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Profiler:StaleAfterIntervals", StringComparison.Ordinal));
    }

    [Fact]
    public void A_profiler_refuses_an_invalid_config()
    {
        var config = new ProfilerConfig { StaleAfterIntervals = 0 };

        var error = Assert.Throws<Scarcity.Actors.Configuration.DRGConfigException>(() => new HostProfiler(config));

        Assert.Contains("Scarcity:Profiler:StaleAfterIntervals", error.Message);
    }

    [Fact]
    public void A_profiler_is_not_changed_by_later_edits_of_its_config()
    {
        var config = new ProfilerConfig();
        var profiler = new HostProfiler(config);

        config.EmaAlpha = 1.0;
        profiler.Update("cpu_util", 0.0, Trace.At(0));
        profiler.Update("cpu_util", 1.0, Trace.At(0.25));

        Assert.True(profiler.TryGetProfile("cpu_util", out var profile));
        Assert.Equal(0.3, profile.Ema, 12);
    }
}
