using System.Globalization;

namespace Scarcity.Actors.Core.Tests.Profiling;

/// <summary>A reference trace (<c>t_seconds,metric,value</c> with a header line), read from the test output's Traces folder.</summary>
internal static class Trace
{
    public static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static IReadOnlyList<(double T, double Value)> Read(string file, string metric = "vram_util")
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Traces", file);
        return File.ReadLines(path)
            .Skip(1)
            .Where(line => line.Length > 0)
            .Select(line => line.Split(','))
            .Where(cells => cells[1] == metric)
            .Select(cells => (double.Parse(cells[0], CultureInfo.InvariantCulture), double.Parse(cells[2], CultureInfo.InvariantCulture)))
            .ToList();
    }

    public static DateTimeOffset At(double seconds) => Start + TimeSpan.FromSeconds(seconds);
}
