using ScottPlot;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Replay;

namespace Scarcity.Actors.Cli;

/// <summary>
/// The picture of a replay (<c>scarcity replay --plot</c>), on one time axis (seconds from the window's start): the
/// series the candidate's rules read, with their thresholds, then one panel per action with the candidate's level and
/// the live level of each subsystem (steps: a level holds until the next decision).
/// </summary>
internal static class ReplayPlot
{
    private const int Width = 1200;
    private const int PanelHeight = 260;
    private const int MaxSeries = 8;

    /// <summary>Writes the PNG at <paramref name="path"/>.</summary>
    public static void Save(string path, ReplayReportDto report, IReadOnlyList<ReplayReading> readings, DRGConfig candidate, DateTimeOffset origin)
    {
        double T(DateTimeOffset at) => (at - origin).TotalSeconds;
        var subsystems = report.Subsystems.Select(s => s.Subsystem).ToList();
        var rules = subsystems.SelectMany(s => candidate.Policy.RulesFor(s)).DistinctBy(r => (r.Metric, r.Threshold)).ToList();
        var watched = rules.Select(r => r.Metric).Distinct(StringComparer.Ordinal).ToList();
        // A rule's metric reads the host series and the subsystem's own labelled one (latency_ms{subsystem="x"}).
        var series = readings.Select(r => (r.Host, r.Series)).Distinct()
            .Where(s => watched.Any(m => s.Series == m || s.Series.StartsWith(m + "{", StringComparison.Ordinal)))
            .Take(MaxSeries).ToList();
        var actions = report.Candidate.Select(d => d.Action).Concat(report.Live.Select(d => d.Action)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

        var multiplot = new Multiplot();
        multiplot.AddPlots(1 + Math.Max(1, actions.Count));
        var top = multiplot.GetPlot(0);
        foreach (var (host, name) in series)
        {
            var points = readings.Where(r => r.Host == host && r.Series == name).ToList();
            Line(top, [.. points.Select(p => T(p.At))], [.. points.Select(p => p.Raw)], series.Select(s => s.Host).Distinct().Count() > 1 ? $"{host} {name}" : name);
        }
        foreach (var rule in rules.Where(r => series.Any(s => s.Series == r.Metric || s.Series.StartsWith(r.Metric + "{", StringComparison.Ordinal))))
        {
            var line = top.Add.HorizontalLine(rule.Threshold);
            line.LegendText = $"{rule.Metric} threshold {rule.Threshold:0.###}";
            line.LinePattern = LinePattern.Dotted;
        }
        Finish(top, $"replay {report.Config}: {report.From:yyyy-MM-dd HH:mm:ss} .. {report.To:HH:mm:ss} UTC", "value");

        var end = T(report.To);
        for (var i = 0; i < Math.Max(1, actions.Count); i++)
        {
            var plot = multiplot.GetPlot(i + 1);
            if (actions.Count == 0)
            {
                Finish(plot, "no decision on either side", "level");
                continue;
            }
            var action = actions[i];
            foreach (var subsystem in subsystems)
            {
                Steps(plot, report.Candidate.Where(d => d.Subsystem == subsystem && d.Action == action).ToList(), T, end, $"{subsystem} candidate", LinePattern.Solid);
                Steps(plot, report.Live.Where(d => d.Subsystem == subsystem && d.Action == action).ToList(), T, end, $"{subsystem} live", LinePattern.Dashed);
            }
            plot.Axes.SetLimitsY(0, 1.05);
            Finish(plot, null, $"{action} level");
        }
        multiplot.GetPlot(Math.Max(1, actions.Count)).XLabel($"seconds from {report.From:yyyy-MM-dd HH:mm:ss} UTC");
        multiplot.SavePng(path, Width, PanelHeight * (1 + Math.Max(1, actions.Count)));
    }

    private static void Steps(Plot plot, IReadOnlyList<ReplayDecisionDto> decisions, Func<DateTimeOffset, double> t, double end, string label, LinePattern pattern)
    {
        if (decisions.Count == 0) return;
        var xs = new List<double> { 0 };
        var ys = new List<double> { decisions[0].PreviousLevel };
        foreach (var d in decisions)
        {
            xs.Add(t(d.At));
            ys.Add(d.Level);
        }
        xs.Add(Math.Max(end, xs[^1]));
        ys.Add(ys[^1]);
        var line = Line(plot, [.. xs], [.. ys], label);
        line.ConnectStyle = ConnectStyle.StepHorizontal;
        line.LinePattern = pattern;
    }

    private static ScottPlot.Plottables.Scatter Line(Plot plot, double[] x, double[] y, string label)
    {
        var line = plot.Add.Scatter(x, y);
        line.LegendText = label;
        line.MarkerSize = 0;
        line.LineWidth = 1.5f;
        return line;
    }

    private static void Finish(Plot plot, string? title, string yLabel)
    {
        if (title is not null) plot.Title(title);
        plot.YLabel(yLabel);
        plot.ShowLegend(Alignment.UpperRight);
    }
}
