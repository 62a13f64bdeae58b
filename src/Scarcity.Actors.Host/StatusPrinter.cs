using System.Globalization;
using System.Text;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Hosting;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Hosting;

namespace Scarcity.Actors.Host;

/// <summary>Prints a compact live status every two seconds: host pressure, the top metrics with forecast, subsystems and levels.</summary>
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

    internal static string Render(GovernorStatus status)
    {
        var sb = new StringBuilder();
        foreach (var (host, profile) in status.Hosts.OrderBy(h => h.Key))
        {
            sb.Append(CultureInfo.InvariantCulture, $"{profile.At:HH:mm:ss} {host} {profile.Pressure.ToString().ToUpperInvariant(),-6}");
            var top = profile.Metrics
                .Where(m => !m.Key.Contains('{') || m.Key.Contains("subsystem=", StringComparison.Ordinal))
                .OrderByDescending(m => Rank(m.Key, m.Value)).Take(5);
            foreach (var (series, e) in top)
                sb.Append(CultureInfo.InvariantCulture,
                    $" | {series} {e.Estimate:0.###} -> {e.Forecast:0.###}±{e.ForecastStdDev:0.###}{(e.Stale ? " STALE" : "")}");
            sb.AppendLine();
        }
        foreach (var (name, s) in status.Subsystems.OrderBy(s => s.Key))
        {
            var levels = string.Join(" ", s.Levels.OrderBy(l => l.Key).Select(l => string.Create(CultureInfo.InvariantCulture, $"{l.Key}={l.Value:0.###}")));
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"    {name}@{s.Host} prio {s.Priority}: {levels}  seq {s.LastSequence} acked {s.LastAckedSequence}{(s.Reachable ? "" : " UNREACHABLE")}");
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
