using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.TestKit.Xunit2;
using Scarcity.Actors.Client;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Testing;
using Xunit;

namespace Scarcity.Actors.Client.Tests;

/// <summary>The client library in the test process (its own actor system, over loopback remoting) against a real governor.</summary>
public sealed class GovernedSubsystemSpecs : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private GovernorHost _host = null!;
    private readonly List<GovernedSubsystem> _clients = [];
    private readonly int _port = GovernorHost.FreePort();

    public async Task InitializeAsync()
    {
        var config = GovernorHost.SpecConfig();
        config.Cluster.Port = _port;
        config.Policy.Policies["*"] = [new PolicyRule(MetricNames.VramUtil, 0.85, ActionNames.ReduceBatch, 0.5) { Signal = SignalKind.Raw }];
        config.Policy.Cooldown = TimeSpan.FromSeconds(1);
        config.Policy.RecoveryDelay = TimeSpan.FromMinutes(10);
        _host = await GovernorHost.StartAsync(config);
    }

    public async Task DisposeAsync()
    {
        foreach (var c in _clients) await c.DisposeAsync();
        await _host.DisposeAsync();
        _host.DeleteDatabase();
    }

    private GovernedSubsystem Start(GovernedSubsystemOptions options)
    {
        options.Host = "spec-host";
        options.Contacts = [$"akka.tcp://scarcity@127.0.0.1:{_port}"];
        options.ExtraHocon = "akka.loglevel = WARNING\n" + AkkaInternalsPassThroughSerializer.Hocon;
        var client = GovernedSubsystem.Start(options);
        _clients.Add(client);
        return client;
    }

    private void Hot(double seconds) => _host.Profilers.Tell(new Sample("spec-host", DateTimeOffset.UtcNow.AddSeconds(seconds),
        [new MetricValue(MetricNames.VramUtil, 0.95)], []));

    [Fact]
    public async Task A_handler_that_throws_is_acked_as_not_applied_and_the_next_Throttle_is_applied()
    {
        var calls = 0;
        var client = Start(new GovernedSubsystemOptions { Name = "flaky" }.On(ActionNames.ReduceBatch, (level, _) =>
        {
            if (Interlocked.Increment(ref calls) == 1) throw new InvalidOperationException("the GPU driver is busy");
        }));
        await client.WaitUntilRegisteredAsync(Wait);

        Hot(0);
        var kit = new TestKit(_host.System);
        await kit.AwaitAssertAsync(async () =>
            Assert.Equal(1, (await _host.Policy.Ask<SubsystemStatus>(new GetSubsystemStatus("flaky"), Wait)).LastAckedSequence), Wait);
        Assert.Equal(1.0, client.LevelOf(ActionNames.ReduceBatch)); // not applied
        Assert.Equal(1, client.LastAppliedSequence);

        Hot(2); // after the cooldown: 0.25
        await kit.AwaitAssertAsync(() => Assert.Equal(0.25, client.LevelOf(ActionNames.ReduceBatch)), Wait);
        Assert.Equal(2, client.LastAppliedSequence);
        Assert.True(client.IsRegistered);
    }

    [Fact]
    public async Task A_NaN_report_is_refused_client_side_naming_the_metric_and_finite_reports_are_profiled()
    {
        var client = Start(new GovernedSubsystemOptions { Name = "reporter" }.On(ActionNames.Throttle, (_, _) => { }));
        await client.WaitUntilRegisteredAsync(Wait);
        var kit = new TestKit(_host.System);
        var telemetry = kit.CreateTestProbe();
        DistributedPubSub.Get(_host.System).Mediator.Tell(new Subscribe(Topics.Telemetry, telemetry.Ref), telemetry.Ref);
        telemetry.ExpectMsg<SubscribeAck>(Wait);

        var error = Assert.Throws<ArgumentException>(() => client.Report(new Dictionary<string, double> { [MetricNames.LatencyMs] = double.NaN }));
        Assert.Contains("'latency_ms' is NaN", error.Message);
        client.Report(new Dictionary<string, double> { [MetricNames.LatencyMs] = 120 });

        var published = telemetry.FishForMessage<TelemetryPublished>(t => t.Profile.Metrics.ContainsKey("latency_ms{subsystem=\"reporter\"}"), Wait);
        Assert.Equal(120, published.Profile.Metrics["latency_ms{subsystem=\"reporter\"}"].Raw);
        Assert.Equal(0, published.RejectedValues); // nothing non-finite crossed the wire
    }

    [Fact]
    public async Task Reports_of_a_second_process_rejected_under_a_live_name_are_not_profiled_only_the_holders_are()
    {
        var holder = Start(new GovernedSubsystemOptions { Name = "twin" }.On(ActionNames.Throttle, (_, _) => { }));
        await holder.WaitUntilRegisteredAsync(Wait);
        var kit = new TestKit(_host.System);
        var telemetry = kit.CreateTestProbe();
        DistributedPubSub.Get(_host.System).Mediator.Tell(new Subscribe(Topics.Telemetry, telemetry.Ref), telemetry.Ref);
        telemetry.ExpectMsg<SubscribeAck>(Wait);
        var rejection = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var duplicate = Start(new GovernedSubsystemOptions { Name = "twin" }.On(ActionNames.Throttle, (_, _) => { }));
        duplicate.Rejected += (_, reason) => rejection.TrySetResult(reason);
        Assert.Contains("already registered", await rejection.Task.WaitAsync(Wait));

        // Both report through ClusterClient (the governor sees the receptionist's tunnel as the sender of either) until a
        // profile shows the duplicate's values arrived: counted as rejected, never profiled.
        const string latency = "latency_ms{subsystem=\"twin\"}";
        var seen = new List<TelemetryPublished>();
        var deadline = DateTimeOffset.UtcNow + Wait;
        while (!seen.Any(t => t.RejectedValues > 0 && t.Profile.Metrics.ContainsKey(latency)) && DateTimeOffset.UtcNow < deadline)
        {
            holder.Report(new Dictionary<string, double> { [MetricNames.LatencyMs] = 100 });
            duplicate.Report(new Dictionary<string, double> { [MetricNames.LatencyMs] = 900 });
            await Task.Delay(200);
            _host.Profilers.Tell(new Sample("spec-host", DateTimeOffset.UtcNow, [new MetricValue(MetricNames.VramUtil, 0.5)], []));
            seen.Add(telemetry.FishForMessage<TelemetryPublished>(t => t.Profile.Host == "spec-host", Wait));
        }

        Assert.Contains(seen, t => t.RejectedValues > 0 && t.Profile.Metrics.ContainsKey(latency));
        Assert.All(seen.Where(t => t.Profile.Metrics.ContainsKey(latency)), t => Assert.Equal(100, t.Profile.Metrics[latency].Raw));
        Assert.True(holder.IsRegistered);
        Assert.False(duplicate.IsRegistered);
    }

    [Fact]
    public void Options_name_what_is_wrong()
    {
        Assert.Contains("Name is empty", Assert.Throws<ArgumentException>(() => GovernedSubsystem.Start(new GovernedSubsystemOptions())).Message);
        Assert.Contains("declares no actions", Assert.Throws<ArgumentException>(() =>
            GovernedSubsystem.Start(new GovernedSubsystemOptions { Name = "x", Contacts = ["akka.tcp://scarcity@127.0.0.1:4053"] })).Message);
        Assert.Contains("'http://nope' is not a governor node address", Assert.Throws<ArgumentException>(() =>
            GovernedSubsystem.Start(new GovernedSubsystemOptions { Name = "x", Contacts = ["http://nope"] }.On("throttle", (_, _) => { }))).Message);
        Assert.Contains("Action name 'Shed Load' is invalid", Assert.Throws<ArgumentException>(() =>
            new GovernedSubsystemOptions().On("Shed Load", (_, _) => { })).Message);
    }

    [Fact]
    public void Every_problem_with_the_options_is_reported_at_once()
    {
        var options = new GovernedSubsystemOptions { Name = "", Contacts = ["http://nope"], Port = 70000, HandlerTimeout = TimeSpan.Zero };

        var problems = options.Validate().ToList();

        Assert.Contains(problems, p => p.Contains("Name is empty"));
        Assert.Contains(problems, p => p.Contains("declares no actions"));
        Assert.Contains(problems, p => p.Contains("'http://nope' is not a governor node address"));
        Assert.Contains(problems, p => p.Contains("Port 70000 is not a port"));
        Assert.Contains(problems, p => p.Contains("HandlerTimeout must be positive"));
        var error = Assert.Throws<ArgumentException>(options.EnsureValid);
        Assert.All(problems, p => Assert.Contains(p, error.Message));
    }

    private sealed class LogCollector : ReceiveActor
    {
        public LogCollector(System.Collections.Concurrent.ConcurrentQueue<Akka.Event.LogEvent> events) =>
            Receive<Akka.Event.LogEvent>(events.Enqueue);
    }

    [Fact]
    public async Task A_governor_that_answers_but_has_not_confirmed_the_registration_is_not_reported_as_no_governor()
    {
        // The governor's registration front door goes away, as the subsystem's actuator does while its shard moves
        // after a failover: the node and its receptionist answer, the registration does not.
        await _host.Policy.GracefulStop(Wait);
        var client = Start(new GovernedSubsystemOptions
        {
            Name = "waiting", ConnectTimeout = TimeSpan.FromSeconds(1), RegisterInterval = TimeSpan.FromMilliseconds(500),
        }.On(ActionNames.ReduceBatch, (_, _) => true));
        var events = new System.Collections.Concurrent.ConcurrentQueue<Akka.Event.LogEvent>();
        client.System.EventStream.Subscribe(client.System.ActorOf(Props.Create(() => new LogCollector(events))), typeof(Akka.Event.LogEvent));

        var deadline = DateTime.UtcNow + Wait;
        while (!events.Any(e => e.Message.ToString()!.Contains("answers but has not confirmed the registration")) && DateTime.UtcNow < deadline)
            await Task.Delay(200);
        await Task.Delay(TimeSpan.FromSeconds(7)); // past the receptionist probe's own 5 s

        Assert.Contains(events, e => e is Akka.Event.Warning && e.Message.ToString()!.Contains($"the governor at akka.tcp://scarcity@127.0.0.1:{_port} answers"));
        Assert.DoesNotContain(events, e => e.Message.ToString()!.Contains("no governor answered"));
        Assert.Null(client.LastError);
        Assert.False(client.IsRegistered);
    }
}
