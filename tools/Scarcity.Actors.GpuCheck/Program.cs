using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.GpuCheck;
using Scarcity.Actors.Sensing;
using Scarcity.Actors.Sensing.Nvml;

// Samples the NVML source every 250 ms for a while and, once a second, sets its readings beside nvidia-smi's.
// Exit codes: 0 agree, 1 disagree beyond tolerance, 2 nvidia-smi absent or failing, 3 NVML unavailable, 64 usage.

const string Usage = "usage: Scarcity.Actors.GpuCheck --gpu-check [--seconds 10] [--library libnvidia-ml.so.1]";
var seconds = 10;
var library = NvmlConfig.DefaultLibraryPath;
var check = false;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--gpu-check": check = true; break;
        case "--seconds" when i + 1 < args.Length && int.TryParse(args[i + 1], out seconds) && seconds > 0: i++; break;
        case "--library" when i + 1 < args.Length: library = args[++i]; break;
        default: Console.Error.WriteLine(Usage); return 64;
    }
}
if (!check)
{
    Console.Error.WriteLine(Usage);
    return 64;
}

if (await QuerySmi() is not { } firstSmi)
    return 2;

using var source = new NvmlSensorSource(new NvmlConfig { LibraryPath = library }, line => Console.WriteLine($"governor: {line}"));
if (!source.IsAvailable)
{
    Console.Error.WriteLine("gpu-check: the governor's NVML source is unavailable (see the line above) while nvidia-smi works.");
    return 3;
}
if (firstSmi.Count != source.Devices.Count)
    Console.WriteLine($"gpu-check: nvidia-smi lists {firstSmi.Count} GPU(s), the governor {source.Devices.Count}.");

var buffer = new MetricBuffer(128);
var comparisons = 0;
var disagreements = firstSmi.Count != source.Devices.Count ? 1 : 0;
var clock = Stopwatch.StartNew();
using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
var tick = 0;
while (clock.Elapsed < TimeSpan.FromSeconds(seconds) && await timer.WaitForNextTickAsync())
{
    buffer.Clear();
    source.Sample(buffer, TimeProvider.System.GetUtcNow());
    if (++tick % 4 != 0) continue;

    // Read nvidia-smi right after the sample, so both look at the same driver averaging window.
    if (await QuerySmi() is not { } smi) return 2;
    Console.WriteLine($"t={clock.Elapsed.TotalSeconds:F1}s  field: governor / nvidia-smi");
    foreach (var device in source.Devices)
    {
        var row = smi.FirstOrDefault(r => r.Uuid == device.Uuid) ?? smi.FirstOrDefault(r => r.Index == device.Index);
        if (row is null)
        {
            Console.WriteLine($"  gpu{device.Index} {device.Uuid}: not listed by nvidia-smi  DIFF");
            disagreements++;
            continue;
        }
        var fields = new List<string>();
        Compare("util", Get(MetricNames.GpuUtil, device.Index) * 100, row.UtilGpu, 15, "F0");
        Compare("mem_util", Get(MetricNames.GpuMemUtil, device.Index) * 100, row.UtilMemory, 15, "F0");
        Compare("vram%", Get(MetricNames.VramUtil, device.Index) * 100, row.MemoryUsedMiB / row.MemoryTotalMiB * 100, 2, "F1");
        var smiPower = row.PowerDrawW / row.PowerLimitW;
        Compare("power/limit", Get(MetricNames.GpuPowerUtil, device.Index), smiPower, 0.15 * smiPower, "F3");
        Compare("power_w", Get(MetricNames.GpuPowerW, device.Index), row.PowerDrawW, 0.15 * row.PowerDrawW, "F0");
        Compare("temp_c", Get(MetricNames.GpuTempC, device.Index), row.TemperatureC, 3, "F0");
        Console.WriteLine($"  gpu{device.Index} {device.Uuid}  {string.Join("  ", fields)}");

        void Compare(string name, double? governor, double? nvidiaSmi, double? tolerance, string format)
        {
            if (nvidiaSmi is null || tolerance is null)
            {
                fields.Add($"{name} {Show(governor, format)}/n/a");
                return;
            }
            comparisons++;
            var agree = governor is { } g && Math.Abs(g - nvidiaSmi.Value) <= tolerance.Value + 1e-9;
            if (!agree) disagreements++;
            fields.Add($"{name} {Show(governor, format)}/{Show(nvidiaSmi, format)}{(agree ? "" : " DIFF")}");
        }
    }
}

Console.WriteLine(disagreements == 0
    ? $"gpu-check: OK, {comparisons} comparisons within tolerance (util ±15 points, vram ±2% of total, power and power_w ±15%, temp ±3 C)."
    : $"gpu-check: FAILED, {disagreements} of {comparisons} comparisons disagree beyond tolerance (marked DIFF).");
return disagreements == 0 ? 0 : 1;

double? Get(string metric, int index) =>
    buffer.Find(MetricNames.Labelled(metric, MetricNames.GpuLabel, index.ToString(CultureInfo.InvariantCulture)));

static string Show(double? value, string format) =>
    value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "stale";

static async Task<List<SmiReading>?> QuerySmi()
{
    var start = new ProcessStartInfo("nvidia-smi")
    {
        ArgumentList = { "--query-gpu=" + SmiReading.Query, "--format=csv,noheader,nounits" },
        RedirectStandardOutput = true,
        RedirectStandardError = true,
    };
    try
    {
        using var smi = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var output = await smi.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = await smi.StandardError.ReadToEndAsync(timeout.Token);
        await smi.WaitForExitAsync(timeout.Token);
        if (smi.ExitCode != 0)
        {
            Console.Error.WriteLine($"gpu-check: nvidia-smi exited {smi.ExitCode}: {error.Trim()} {output.Trim()}");
            return null;
        }
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(SmiReading.Parse).OfType<SmiReading>().ToList();
    }
    catch (Win32Exception)
    {
        Console.Error.WriteLine("gpu-check: nvidia-smi not found on PATH; this check needs a host with an NVIDIA GPU and driver.");
        return null;
    }
    catch (OperationCanceledException)
    {
        Console.Error.WriteLine("gpu-check: nvidia-smi did not answer within 10 s.");
        return null;
    }
}
