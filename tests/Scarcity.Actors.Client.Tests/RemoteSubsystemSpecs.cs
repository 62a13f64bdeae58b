using Akka.Actor;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Hosting;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Testing;
using Xunit;

namespace Scarcity.Actors.Client.Tests;

/// <summary>
/// A governor in the test process on a fixed free port, and the sample engine as a separate process connected through
/// ClusterClient: registration, Throttle and ack across processes, restarts of either side, and bad input.
/// </summary>
public sealed class RemoteSubsystemSpecs : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly DateTimeOffset T0 = DateTimeOffset.UtcNow;
    private readonly List<GovernorHost> _hosts = [];
    private readonly List<EngineProcess> _engines = [];
    private readonly int _port = GovernorHost.FreePort();
    private readonly string _db = Path.Combine(Path.GetTempPath(), $"scarcity-client-{Guid.NewGuid():N}.db");

    private string Contact => $"akka.tcp://{GovernorHostingExtensions.SystemName}@127.0.0.1:{_port}";

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var e in _engines) e.Dispose();
        foreach (var h in _hosts) await h.DisposeAsync();
        _hosts.LastOrDefault()?.DeleteDatabase();
    }

    private async Task<GovernorHost> StartGovernor()
    {
        var config = GovernorHost.SpecConfig(_db);
        config.Cluster.Port = _port;
        config.Policy.Policies["*"] = [new PolicyRule(MetricNames.VramUtil, 0.85, ActionNames.ReduceBatch, 0.5) { Signal = SignalKind.Raw }];
        config.Policy.Cooldown = TimeSpan.FromSeconds(5);
        config.Policy.RecoveryDelay = TimeSpan.FromMinutes(10);
        var host = await GovernorHost.StartAsync(config);
        _hosts.Add(host);
        return host;
    }

    private async Task StopGovernor(GovernorHost host)
    {
        await host.DisposeAsync();
        _hosts.Remove(host);
    }

    private EngineProcess StartEngine(string name = "engine", params string[] extra)
    {
        var engine = EngineProcess.Start([.. new[] { "--contact", Contact, "--name", name, "--host", "spec-host", "--scenario", "idle" }, .. extra]);
        _engines.Add(engine);
        return engine;
    }

    private static Sample Hot(double seconds) =>
        new("spec-host", T0.AddSeconds(seconds), [new MetricValue(MetricNames.VramUtil, 0.95)], []);

    private static Task<SubsystemStatus> Status(GovernorHost host, string name = "engine") =>
        host.Policy.Ask<SubsystemStatus>(new GetSubsystemStatus(name), TimeSpan.FromSeconds(10));

    private static async Task Eventually(Func<Task> assertion)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            try
            {
                await assertion();
                return;
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }
    }

    [Fact]
    public async Task A_remote_engine_registers_gets_a_Throttle_when_a_rule_fires_and_acks_it()
    {
        var host = await StartGovernor();
        var engine = StartEngine();
        await engine.WaitForLine(l => l.StartsWith("registered name=engine"), Wait);

        host.Profilers.Tell(Hot(0));

        await engine.WaitForLine(l => l.StartsWith("applied seq=1 action=reduce_batch level=0.5 "), Wait);
        await Eventually(async () =>
        {
            var status = await Status(host);
            Assert.Equal(1, status.LastAckedSequence);
            Assert.True(status.Reachable);
        });
    }

    [Fact]
    public async Task A_killed_and_restarted_engine_registers_again_and_gets_the_current_levels()
    {
        var host = await StartGovernor();
        var engine = StartEngine();
        await engine.WaitForLine(l => l.StartsWith("registered"), Wait);
        host.Profilers.Tell(Hot(0));
        await engine.WaitForLine(l => l.StartsWith("applied seq=1 "), Wait);

        engine.Kill();
        await Eventually(async () => Assert.False((await Status(host)).Reachable)); // the governor sees the process die
        var restarted = StartEngine();

        await restarted.WaitForLine(l => l.StartsWith("registered name=engine"), Wait);
        Assert.Contains(restarted.Lines, l => l == "level action=reduce_batch level=0.5 source=registration");
        Assert.Contains(restarted.Lines, l => l.StartsWith("registered") && l.Contains("last=1") && l.Contains("reduce_batch=0.5,"));
        Assert.Empty(restarted.AppliedSequences); // seq 1 is not applied again
    }

    [Fact]
    public async Task After_a_governor_restart_the_engine_registers_by_itself_and_nothing_is_applied_twice_or_out_of_order()
    {
        var first = await StartGovernor();
        var engine = StartEngine();
        await engine.WaitForLine(l => l.StartsWith("registered"), Wait);
        first.Profilers.Tell(Hot(0));
        await engine.WaitForLine(l => l.StartsWith("applied seq=1 "), Wait);
        await Eventually(async () => Assert.Equal(1, (await Status(first)).LastAckedSequence));

        await StopGovernor(first);
        var second = await StartGovernor(); // same SQLite file, same port
        await Eventually(async () => Assert.True((await Status(second)).Reachable));
        await Eventually(() =>
        {
            Assert.Equal(2, engine.Lines.Count(l => l.StartsWith("registered name=engine")));
            return Task.CompletedTask;
        });
        Assert.True(engine.Lines.Where(l => l.StartsWith("registered")).Last() is var again && again.Contains("last=1") && again.Contains("reduce_batch=0.5,"), engine.Output);

        second.Profilers.Tell(Hot(10));
        await engine.WaitForLine(l => l.StartsWith("applied seq=2 action=reduce_batch level=0.25 "), Wait);
        Assert.Equal([1, 2], engine.AppliedSequences);
        await Eventually(async () => Assert.Equal(2, (await Status(second)).LastAckedSequence));
    }

    [Fact]
    public async Task A_second_process_under_a_live_name_is_rejected_with_the_reason_and_the_first_keeps_being_governed()
    {
        var host = await StartGovernor();
        var engine = StartEngine();
        await engine.WaitForLine(l => l.StartsWith("registered"), Wait);

        var impostor = StartEngine();

        var rejected = await impostor.WaitForLine(l => l.StartsWith("rejected:"), Wait);
        Assert.Contains("already registered", rejected);
        host.Profilers.Tell(Hot(0));
        await engine.WaitForLine(l => l.StartsWith("applied seq=1 "), Wait);
        Assert.Empty(impostor.AppliedSequences);
    }

    [Theory]
    [InlineData("--name", "", "Name is empty")]
    [InlineData("--contact", "scarcity@127.0.0.1", "Contact address 'scarcity@127.0.0.1' is not a governor node address")]
    public async Task Bad_arguments_end_the_engine_with_a_clear_error(string option, string value, string message)
    {
        var engine = EngineProcess.Start(
            option == "--name" ? ["--contact", Contact, "--name", value] : ["--contact", value, "--name", "engine"]);
        _engines.Add(engine);

        Assert.Equal(2, await engine.WaitForExit(Wait));
        Assert.Contains(engine.Lines, l => l.StartsWith("error:") && l.Contains(message));
    }

    [Fact]
    public async Task An_unreachable_contact_is_logged_once_naming_the_address_and_the_engine_keeps_running()
    {
        var engine = StartEngine("engine", "--connect-timeout", "1");

        await engine.WaitForLine(l => l.Contains($"no governor answered at {Contact}"), Wait);
        await engine.WaitForLine(l => l.StartsWith("t=10s"), Wait); // several connect timeouts later
        Assert.Single(engine.Lines, l => l.Contains("no governor answered"));
    }
}
