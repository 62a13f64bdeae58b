using ScottPlot;
using Scarcity.Actors.Simulation;
using Scarcity.Actors.Simulation.ClosedLoop;

namespace Scarcity.Actors.Cli;

/// <summary>
/// The picture of a governed run (<c>scarcity simulate --plot</c>), one panel each, on one time axis: VRAM reserved and
/// needed against the card, the batch (with the oracle's), every level, latency against the SLO, and the queue.
/// </summary>
internal static class SimulationPlot
{
    private const int Width = 1200;
    private const int PanelHeight = 260;

    /// <summary>Draws <paramref name="ours"/> (and the oracle's batch from <paramref name="oracle"/>) into a PNG at <paramref name="path"/>.</summary>
    public static void Save(string path, SimulatedRun ours, SimulatedRun oracle)
    {
        var t = ours.Steps.Select(s => s.Seconds).ToArray();
        var multiplot = new Multiplot();
        multiplot.AddPlots(5);
        var plots = Enumerable.Range(0, 5).Select(multiplot.GetPlot).ToArray();

        var vram = plots[0];
        Line(vram, t, ours.Steps.Select(s => s.Reserved), "VRAM reserved (vram_util)");
        Line(vram, t, ours.Steps.Select(s => s.Needed), "VRAM needed");
        Limit(vram, 1.0, "the card");
        var ooms = ours.Steps.Where(s => s.Oom).ToArray();
        if (ooms.Length > 0)
        {
            var marks = vram.Add.ScatterPoints(ooms.Select(s => s.Seconds).ToArray(), ooms.Select(s => s.Needed).ToArray());
            marks.LegendText = "OOM";
            marks.MarkerSize = 9;
            marks.MarkerShape = MarkerShape.FilledDiamond;
        }
        Finish(vram, $"{ours.Scenario}: governed run (delay {ours.Delay})", "VRAM (fraction)");

        var batch = plots[1];
        Line(batch, t, ours.Steps.Select(s => (double)s.Batch), "batch");
        Line(batch, t, oracle.Steps.Select(s => (double)s.Batch), "oracle's batch").LinePattern = LinePattern.Dashed;
        Finish(batch, null, "batch");

        var levels = plots[2];
        Line(levels, t, ours.Steps.Select(s => s.Levels.ReduceBatch), "reduce_batch");
        Line(levels, t, ours.Steps.Select(s => s.Levels.Throttle), "throttle");
        Line(levels, t, ours.Steps.Select(s => s.Levels.ShedLoad), "shed_load");
        levels.Axes.SetLimitsY(0, 1.05);
        Finish(levels, null, "level");

        var latency = plots[3];
        // Minutes of queueing would flatten the SLO line: the axis stops at four times the SLO, the label says so.
        var top = 4 * InferenceEngineModel.SloMs;
        var clipped = ours.Steps.Any(s => s.LatencyMs > top);
        Line(latency, t, ours.Steps.Select(s => s.LatencyMs), clipped ? $"latency (time to first token; axis cut at {top:0} ms)" : "latency (time to first token)");
        Limit(latency, InferenceEngineModel.SloMs, "SLO");
        if (clipped) latency.Axes.SetLimitsY(0, top);
        Finish(latency, null, "ms");

        var queue = plots[4];
        Line(queue, t, ours.Steps.Select(s => s.Queue), "queue");
        Finish(queue, null, "requests");
        queue.XLabel("simulated seconds");

        multiplot.SavePng(path, Width, PanelHeight * plots.Length);
    }

    private static ScottPlot.Plottables.Scatter Line(Plot plot, double[] t, IEnumerable<double> values, string label)
    {
        var line = plot.Add.Scatter(t, values.ToArray());
        line.LegendText = label;
        line.MarkerSize = 0;
        line.LineWidth = 1.5f;
        return line;
    }

    private static void Limit(Plot plot, double y, string label)
    {
        var line = plot.Add.HorizontalLine(y);
        line.LegendText = label;
        line.LinePattern = LinePattern.Dotted;
        line.Color = Colors.Red;
    }

    private static void Finish(Plot plot, string? title, string yLabel)
    {
        if (title is not null) plot.Title(title);
        plot.YLabel(yLabel);
        plot.ShowLegend(Alignment.UpperRight);
    }
}
