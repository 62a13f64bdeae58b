using System.Globalization;

namespace Scarcity.Actors.GpuCheck;

/// <summary>
/// One line of <c>nvidia-smi --query-gpu=<see cref="Query"/> --format=csv,noheader,nounits</c>; a field the card does
/// not report (<c>[N/A]</c>, <c>[Not Supported]</c>) is null.
/// </summary>
internal sealed record SmiReading(
    int Index, string Uuid, double? UtilGpu, double? UtilMemory, double? MemoryTotalMiB, double? MemoryUsedMiB,
    double? PowerDrawW, double? PowerLimitW, double? TemperatureC)
{
    public const string Query =
        "index,uuid,utilization.gpu,utilization.memory,memory.total,memory.used,power.draw,power.limit,temperature.gpu";

    public static SmiReading? Parse(string line)
    {
        var f = line.Split(',', StringSplitOptions.TrimEntries);
        if (f.Length < 9 || !int.TryParse(f[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var index))
            return null;
        return new SmiReading(index, f[1], Number(f[2]), Number(f[3]), Number(f[4]), Number(f[5]), Number(f[6]),
            Number(f[7]), Number(f[8]));

        static double? Number(string s) =>
            double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null;
    }
}
