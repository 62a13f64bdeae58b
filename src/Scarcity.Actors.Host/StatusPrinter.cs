using System.Globalization;
using System.Text;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Hosting;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Hosting;

namespace Scarcity.Actors.Host;

/// <summary>
/// Prints a compact live status every two seconds: host pressure, the top metrics with forecast, subsystems and levels;
/// for a fleet of more than ten hosts or subsystems, a summary line and the ten worst of each.
/// </summary>
internal sealed class StatusPrinter(ActorRegistry registry) : BackgroundService
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(2);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var monitor = await registry.GetAsync<GovernorActors.Monitor>(stoppingToken);
        using var timer = new PeriodicTimer(Period);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var status = await monitor.Ask<GovernorStatus>(GetGovernorStatus.Instance, TimeSpan.FromSeconds(5), stoppingToken);
                Console.WriteLine(Render(status));
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException && !stoppingToken.IsCancellationRequested)
            {
                Console.WriteLine("status: the governor did not answer within 5 s");
            }
        }
    }

    /// <summary>Hosts and subsystems listed one per line; beyond that a summary and the worst ones.</summary>
    internal const int MaxListed = 10;

    internal static string Render(GovernorStatus status)
    {
        var sb = new StringBuilder();
        var hosts = status.Hosts.Values.ToList();
        var subsystems = status.Subsystems.Values.ToList();
        var large = hosts.Count > MaxListed || subsystems.Count > MaxListed;
        if (large)
        {
            // A fleet: one summary line, then the hosts under the most pressure and the subsystems held back or down.
            var stale = hosts.Count(h => h.Metrics.Values.Any(m => m.Stale));
            var byPressure = hosts.GroupBy(h => h.Pressure).ToDictionary(g => g.Key, g => g.Count());
            var restricted = subsystems.Count(s => !s.Reachable || s.Levels.Values.Any(l => l != 1));
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"fleet: {hosts.Count} hosts ({byPressure.GetValueOrDefault(PressureLevel.Red)} red, {byPressure.GetValueOrDefault(PressureLevel.Orange)} orange, " +
                $"{byPressure.GetValueOrDefault(PressureLevel.Yellow)} yellow, {byPressure.GetValueOrDefault(PressureLevel.Green)} green, {stale} with stale series), " +
                $"{subsystems.Count} subsystems ({restricted} restricted or unreachable); the {MaxListed} worst of each:");
            hosts = [.. hosts.OrderByDescending(h => h.Pressure).ThenBy(h => h.Host, StringComparer.Ordinal).Take(MaxListed)];
            subsystems = [.. subsystems.Where(s => !s.Reachable || s.Levels.Values.Any(l => l != 1))
                .OrderBy(s => s.Reachable).ThenBy(s => s.Levels.Values.DefaultIfEmpty(1).Min()).ThenBy(s => s.Name, StringComparer.Ordinal).Take(MaxListed)];
        }
        else
        {
            hosts = [.. hosts.OrderBy(h => h.Host, StringComparer.Ordinal)];
            subsystems = [.. subsystems.OrderBy(s => s.Name, StringComparer.Ordinal)];
        }
        foreach (var profile in hosts)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{profile.At:HH:mm:ss} {profile.Host} {profile.Pressure.ToString().ToUpperInvariant(),-6}");
            var top = profile.Metrics
                .Where(m => !m.Key.Contains('{') || m.Key.Contains("subsystem=", StringComparison.Ordinal))
                .OrderByDescending(m => Rank(m.Key, m.Value)).Take(5);
            foreach (var (series, e) in top)
                sb.Append(CultureInfo.InvariantCulture,
                    $" | {series} {e.Estimate:0.###} -> {e.Forecast:0.###}±{e.ForecastStdDev:0.###}{(e.Stale ? " STALE" : "")}");
            sb.AppendLine();
        }
        foreach (var s in subsystems)
        {
            var levels = string.Join(" ", s.Levels.OrderBy(l => l.Key).Select(l => string.Create(CultureInfo.InvariantCulture, $"{l.Key}={l.Value:0.###}")));
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"    {s.Name}@{s.Host} prio {s.Priority}: {levels}  seq {s.LastSequence} acked {s.LastAckedSequence}{(s.Reachable ? "" : " UNREACHABLE")}");
        }
        if (status.RejectedSamples > 0) sb.AppendLine(CultureInfo.InvariantCulture, $"    rejected readings: {status.RejectedSamples}");
        return sb.ToString().TrimEnd();
    }

    private static double Rank(string series, MetricEstimate e)
    {
        var name = MetricNames.BaseName(series);
        if (MetricNames.Utilisations.Contains(name)) return 1 + Math.Max(e.Estimate, e.Forecast);
        return name == MetricNames.LatencyMs ? 1.5 : 0;
    }
}
