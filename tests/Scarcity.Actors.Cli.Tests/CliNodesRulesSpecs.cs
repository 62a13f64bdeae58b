using System.Collections.Immutable;
using Scarcity.Actors.Cli;
using Scarcity.Actors.Contracts;
using Xunit;

namespace Scarcity.Actors.Cli.Tests;

/// <summary><c>nodes</c> shows, per host, the rules of its subsystems that are not evaluated, telling a metric the host never had from one that went stale.</summary>
public sealed class CliNodesRulesSpecs
{
    private static readonly DateTimeOffset At = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Each_host_lists_the_skipped_rules_of_its_own_subsystems_only()
    {
        var estimate = new MetricEstimate(0.3, 0.3, 0.3, 0, 0.3, 0.01, At, false);
        HostProfile Host(string name) => new(name, At, PressureLevel.Green, ImmutableDictionary<string, MetricEstimate>.Empty.Add(MetricNames.CpuUtil, estimate));
        SubsystemStatus Subsystem(string name, string host, params string[] skipped) =>
            new(name, host, 1, ImmutableDictionary<string, double>.Empty, 0, 0, true, [.. skipped]);
        const string never = "psi_cpu > 0.5 -> throttle x0.7: metric 'psi_cpu' never reported on this host; the rule counts as released";
        const string stale = "vram_util > 0.85 -> reduce_batch x0.5: metric 'vram_util' is stale; the level holds";
        var status = new GovernorStatus(
            ImmutableDictionary<string, HostProfile>.Empty.Add("gpu-a", Host("gpu-a")).Add("gpu-b", Host("gpu-b")),
            ImmutableDictionary<string, SubsystemStatus>.Empty
                .Add("engine", Subsystem("engine", "gpu-a", never, stale))
                .Add("trainer", Subsystem("trainer", "gpu-b")),
            0);

        var nodes = Dto.Nodes(status).Nodes;

        Assert.Equal([$"engine: {never}", $"engine: {stale}"], nodes.Single(n => n.Host == "gpu-a").Rules);
        Assert.Empty(nodes.Single(n => n.Host == "gpu-b").Rules);
    }
}
