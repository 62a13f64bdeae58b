using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Configuration;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Simulation;
using Scarcity.Actors.Simulation.ClosedLoop;

namespace Scarcity.Actors.Cli;

/// <summary>The scores of one governor on one scenario (<c>scarcity simulate --json</c>).</summary>
/// <param name="Ooms">Out-of-memory crashes.</param>
/// <param name="RequestsLost">Requests in the batch when the engine crashed.</param>
/// <param name="SecondsOverSlo">Seconds with time to first token over the SLO, or the engine down.</param>
/// <param name="GoodRequests">Requests served within the SLO.</param>
/// <param name="RequestsRejected">Requests refused at admission.</param>
/// <param name="GoodOverOracle">Good requests as a fraction of the oracle's.</param>
public sealed record SimulationScoresDto(int Ooms, double RequestsLost, double SecondsOverSlo, double GoodRequests, double RequestsRejected, double GoodOverOracle);

/// <summary>One scenario side by side: no governor, ours, the oracle, the step-safe bound.</summary>
/// <param name="Scenario">Its name (a file's name without extension).</param>
/// <param name="Seconds">Its length.</param>
/// <param name="NoGovernor">Every level at 1.</param>
/// <param name="Ours">The governor's policy core with the configuration given.</param>
/// <param name="Oracle">Perfect foresight (shared/ENGINE-MODEL.md).</param>
/// <param name="Decisions">Level changes the governor made.</param>
/// <param name="Plot">The PNG written, or null.</param>
/// <param name="StepSafe">
/// The step-safe bound (<see cref="StepSafeOracleGovernor"/>): the oracle held to the batch that fits the scenario's largest
/// context, a batch safe at every step (what a governor that cannot see a step coming must keep to run out of memory
/// never where any step may reach that context; not a strict upper bound).
/// </param>
public sealed record SimulationDto(
    string Scenario, double Seconds, SimulationScoresDto NoGovernor, SimulationScoresDto Ours, SimulationScoresDto Oracle, int Decisions, string? Plot,
    SimulationScoresDto StepSafe);

/// <summary>What <c>scarcity simulate --json</c> prints.</summary>
/// <param name="Config">The configuration file, or <c>defaults</c>.</param>
/// <param name="Subsystem">The subsystem name the engine is governed as.</param>
/// <param name="Delay">Samples between a decision and its effect.</param>
/// <param name="Scenarios">One entry per scenario, in the order run.</param>
public sealed record SimulationReportDto(string Config, string Subsystem, int Delay, IReadOnlyList<SimulationDto> Scenarios);

/// <summary>
/// <c>scarcity simulate</c>: the governor's policy core (the Host's classes and configuration loading) in closed loop with
/// the engine model of shared/ENGINE-MODEL.md, offline, scored against no governor, the oracle and the step-safe bound.
/// </summary>
internal static class SimulateCommand
{
    private static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The command, printing to <paramref name="stdout"/>; <paramref name="json"/> is the root's <c>--json</c>.</summary>
    public static Command Create(Option<bool> json, TextWriter stdout)
    {
        var scenarios = new Argument<string[]>("scenario")
        {
            Description = $"A built-in scenario ({string.Join(", ", Scenario.BuiltIn.Select(s => s.Name))}) or a scenario file " +
                          $"(CSV: {ScenarioFile.Header}, one row per 0.25 s step); several may be given",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var all = new Option<bool>("--all") { Description = "Run every built-in scenario (before any given)" };
        var config = new Option<string>("--config")
        {
            Description = "A JSON file with the Scarcity section, loaded as the Host loads its --config (then Scarcity__ environment variables); default: the Host's defaults",
        };
        var delay = new Option<int>("--delay") { Description = "Samples (0.25 s each) between a decision and its effect on the engine", DefaultValueFactory = _ => 0 };
        var plot = new Option<string>("--plot")
        {
            Description = "Write a PNG of the governed run (VRAM, batch, levels, latency, queue over time); with several scenarios, one file each, named file-scenario.png",
        };
        var subsystem = new Option<string>("--subsystem")
        {
            Description = "The subsystem name the engine is governed as (rules are looked up by it)", DefaultValueFactory = _ => PolicyGovernor.DefaultSubsystem,
        };
        var command = new Command("simulate", "Offline: run the governor's policy core in closed loop with the engine model; scores of no governor, ours, the oracle and the step-safe bound (the oracle held to the batch that fits the largest context)")
        {
            scenarios, all, config, delay, plot, subsystem,
        };
        command.SetAction(p => Run(p.GetValue(json), stdout, p.GetValue(scenarios) ?? [], p.GetValue(all), p.GetValue(config),
            p.GetValue(delay), p.GetValue(plot), p.GetValue(subsystem)!));
        return command;
    }

    private static int Run(bool json, TextWriter stdout, string[] names, bool all, string? configFile, int delay, string? plot, string subsystem)
    {
        if (delay < 0) throw new CliUsageException($"--delay must be 0 or more samples, was {delay}");
        if (string.IsNullOrWhiteSpace(subsystem)) throw new CliUsageException("--subsystem must not be empty");
        if (!all && names.Length == 0) throw new CliUsageException("give a scenario (a built-in name or a file) or --all");
        var config = LoadConfig(configFile);
        var scenarios = (all ? Scenario.BuiltIn : []).Concat(names.Select(Resolve)).ToList();

        var results = new List<SimulationDto>();
        foreach (var scenario in scenarios)
        {
            var none = ClosedLoopRunner.Run(scenario, Ungoverned.Instance);
            var oracle = ClosedLoopRunner.Run(scenario, OracleGovernor.Instance);
            var stepSafe = ClosedLoopRunner.Run(scenario, new StepSafeOracleGovernor(scenario));
            var governor = new PolicyGovernor(config, subsystem);
            var ours = ClosedLoopRunner.Run(scenario, governor, delay);
            string? picture = null;
            if (plot is not null)
            {
                picture = scenarios.Count == 1 ? plot : PlotPath(plot, scenario.Name);
                try
                {
                    SimulationPlot.Save(picture, ours, oracle);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new CliException($"--plot: cannot write {picture}: {e.Message}");
                }
            }
            var best = oracle.Scores.GoodRequests;
            results.Add(new SimulationDto(scenario.Name, scenario.Duration.TotalSeconds, Scores(none, best), Scores(ours, best), Scores(oracle, best),
                governor.Decisions.Count, picture, Scores(stepSafe, best)));
        }

        var report = new SimulationReportDto(configFile ?? "defaults", subsystem, delay, results);
        if (json) stdout.WriteLine(JsonSerializer.Serialize(report, Indented));
        else Print(stdout, report);
        stdout.Flush();
        return ExitCodes.Ok;
    }

    private static Scenario Resolve(string name)
    {
        if (Scenario.Named(name) is { } builtIn) return builtIn;
        try
        {
            return ScenarioFile.Load(name);
        }
        catch (ScenarioFileException e) when (e.Line is null)
        {
            var known = string.Join(", ", Scenario.BuiltIn.Select(s => s.Name));
            throw new CliUsageException($"'{name}' is neither a built-in scenario ({known}) nor a readable scenario file: {e.Message}");
        }
        catch (ScenarioFileException e)
        {
            throw new CliException(e.Message);
        }
    }

    /// <summary>The governor's configuration as the Host binds it: the file (in place of appsettings.json), then the environment.</summary>
    internal static DRGConfig LoadConfig(string? path)
    {
        var builder = new ConfigurationBuilder();
        if (path is not null)
        {
            if (!File.Exists(path)) throw new CliUsageException($"--config: file '{path}' does not exist");
            builder.AddJsonFile(Path.GetFullPath(path), optional: false, reloadOnChange: false);
        }
        builder.AddEnvironmentVariables();
        IConfigurationRoot configuration;
        try
        {
            configuration = builder.Build();
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or IOException)
        {
            throw new CliUsageException($"--config: cannot read {path}: {(e.InnerException ?? e).Message}");
        }
        var config = DRGConfig.Bind(configuration, out var errors);
        if (errors.Count > 0) throw new CliException($"{path ?? "the environment"}: invalid configuration: {string.Join("; ", errors)}");
        return config;
    }

    private static string PlotPath(string plot, string scenario)
    {
        var directory = Path.GetDirectoryName(plot);
        var name = $"{Path.GetFileNameWithoutExtension(plot)}-{scenario}{(Path.HasExtension(plot) ? Path.GetExtension(plot) : ".png")}";
        return string.IsNullOrEmpty(directory) ? name : Path.Combine(directory, name);
    }

    private static SimulationScoresDto Scores(SimulatedRun run, double oracleGood)
    {
        var s = run.Scores;
        return new SimulationScoresDto(s.Ooms, s.RequestsLost, s.SecondsOverSlo, s.GoodRequests, s.RequestsRejected,
            oracleGood > 0 ? s.GoodRequests / oracleGood : double.NaN);
    }

    private static void Print(TextWriter stdout, SimulationReportDto report)
    {
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"config: {report.Config}; subsystem: {report.Subsystem}; delay: {report.Delay} sample(s) of {InferenceEngineModel.Dt} s"));
        foreach (var r in report.Scenarios)
        {
            stdout.WriteLine();
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.Scenario} ({r.Seconds:0.##} s, {r.Decisions} decisions){(r.Plot is null ? "" : $", plot: {r.Plot}")}"));
            stdout.WriteLine($"{"",-12} {"OOMs",5} {"lost",8} {"over SLO s",11} {"good",9} {"rejected",9} {"good/oracle",12}");
            Row("no governor", r.NoGovernor);
            Row("ours", r.Ours);
            Row("oracle", r.Oracle);
            Row("step-safe", r.StepSafe);
        }

        void Row(string name, SimulationScoresDto s) => stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name,-12} {s.Ooms,5} {s.RequestsLost,8:0.0} {s.SecondsOverSlo,11:0.00} {s.GoodRequests,9:0.0} {s.RequestsRejected,9:0.0} {s.GoodOverOracle,12:0.000}"));
    }
}
