using System.Collections.Immutable;
using System.Threading.Channels;
using Akka.Actor;
using Grpc.Core;
using Prometheus;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Gateway.V1;
using Xunit;
using ContractAck = Scarcity.Actors.Contracts.ThrottleAck;
using ContractThrottle = Scarcity.Actors.Contracts.Throttle;

namespace Scarcity.Actors.Gateway.Tests;

/// <summary>
/// What only the stream's actor does, with probes for the registration front door and the actuator: registering until
/// answered, DeathWatch of the actuator (a failover registers again and the stream gets a second Registered), acks to
/// the actuator that sent the Throttle, and how it ends the stream.
/// </summary>
public sealed class GovernStreamActorSpecs : Akka.TestKit.Xunit2.TestKit
{
    public GovernStreamActorSpecs() : base("akka.loglevel = WARNING") => _profilers = CreateTestProbe();

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private readonly Channel<GovernorMessage> _queue = Channel.CreateBounded<GovernorMessage>(8);

    private readonly CancellationTokenSource _overflow = new();
    private readonly Akka.TestKit.TestProbe _profilers;
    private readonly GatewayMetrics _metrics = new(Prometheus.Metrics.NewCustomRegistry());

    private IActorRef Start(IActorRef registration, TimeSpan? registerInterval = null) =>
        Sys.ActorOf(GovernStreamActor.Props(
            new RegisterSubsystem("engine", "spec-host", 3, [ActionNames.ReduceBatch], ActorRefs.Nobody, 250),
            registration, _profilers.Ref, _queue.Writer, _metrics, registerInterval ?? TimeSpan.FromMilliseconds(200), _overflow));

    private async Task<Exception?> Drain(ChannelReader<GovernorMessage> queue)
    {
        using var timeout = new CancellationTokenSource(Wait);
        try
        {
            await foreach (var _ in queue.ReadAllAsync(timeout.Token)) { }
            return null;
        }
        catch (RpcException e)
        {
            return e;
        }
    }

    private async Task<GovernorMessage> Next()
    {
        using var timeout = new CancellationTokenSource(Wait);
        return await _queue.Reader.ReadAsync(timeout.Token);
    }

    private static ContractThrottle Throttle(long sequence) =>
        new("engine", ActionNames.ReduceBatch, 0.5, sequence, new ThrottleReason("rule", "vram_util", "raw", 0.9, 0.9, 0.85), "spec-host", DateTimeOffset.UtcNow);

    [Fact]
    public async Task It_registers_itself_until_answered_then_relays_the_levels_and_Throttles_and_acks_to_the_sender()
    {
        var registration = CreateTestProbe();
        var actuator = CreateTestProbe();
        var actor = Start(registration.Ref);

        var first = registration.ExpectMsg<RegisterSubsystem>(Wait);
        var again = registration.ExpectMsg<RegisterSubsystem>(Wait); // no answer yet: asked again
        Assert.Equal(actor, first.Ref);
        Assert.Equal(first, again);
        Assert.Equal(250, first.LatencyObjectiveMs);

        var report = new ReportMetrics("engine", "spec-host", ImmutableDictionary<string, double>.Empty.Add("latency_ms", 90), DateTimeOffset.UtcNow, actor);
        actor.Tell(report); // before Registered: the profiler would reject it
        await AwaitAssertAsync(() => Assert.Equal(1, _metrics.ReportsDropped.WithLabels("unregistered").Value), Wait);
        _profilers.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        actor.Tell(new SubsystemRegistered("engine", ImmutableDictionary<string, double>.Empty.Add(ActionNames.ReduceBatch, 0.7), 4), actuator.Ref);
        var registered = (await Next()).Registered;
        Assert.Equal(0.7, registered.Levels[ActionNames.ReduceBatch]);
        Assert.Equal(4, registered.LastSequence);
        registration.ReceiveWhile(TimeSpan.FromMilliseconds(300), m => m as RegisterSubsystem); // attempts made before the answer
        registration.ExpectNoMsg(TimeSpan.FromMilliseconds(600)); // answered: no more attempts
        actor.Tell(report);
        Assert.Equal(actor, _profilers.ExpectMsg<ReportMetrics>(Wait).Reporter);

        actor.Tell(Throttle(5), actuator.Ref);
        Assert.Equal(5, (await Next()).Throttle.Sequence);
        actor.Tell(new ContractAck("engine", 5, true, "applied"));
        Assert.Equal(new ContractAck("engine", 5, true, "applied"), actuator.ExpectMsg<ContractAck>(Wait));
    }

    [Fact]
    public async Task When_its_actuator_dies_it_registers_again_and_the_stream_gets_the_new_levels()
    {
        var registration = CreateTestProbe();
        var actuator = CreateTestProbe();
        var actor = Start(registration.Ref, TimeSpan.FromSeconds(30));
        registration.ExpectMsg<RegisterSubsystem>(Wait);
        actor.Tell(new SubsystemRegistered("engine", ImmutableDictionary<string, double>.Empty.Add(ActionNames.ReduceBatch, 1.0), 0), actuator.Ref);
        await Next();

        Sys.Stop(actuator.Ref); // the node holding the entity went away
        var again = registration.ExpectMsg<RegisterSubsystem>(Wait);
        Assert.Equal(actor, again.Ref);
        var successor = CreateTestProbe();
        actor.Tell(new SubsystemRegistered("engine", ImmutableDictionary<string, double>.Empty.Add(ActionNames.ReduceBatch, 0.5), 2), successor.Ref);

        var second = await Next();
        Assert.Equal(GovernorMessage.KindOneofCase.Registered, second.KindCase);
        Assert.Equal(0.5, second.Registered.Levels[ActionNames.ReduceBatch]);
        actor.Tell(new ContractAck("engine", 2, true, "applied"));
        successor.ExpectMsg<ContractAck>(Wait);
    }

    [Fact]
    public async Task A_rejection_is_the_streams_last_message_and_the_actor_stops()
    {
        var registration = CreateTestProbe();
        var actor = Start(registration.Ref);
        Watch(actor);
        registration.ExpectMsg<RegisterSubsystem>(Wait);

        actor.Tell(new RegistrationRejected("engine", "held by another"));

        Assert.Equal("held by another", (await Next()).Rejected.Reason);
        ExpectTerminated(actor, Wait);
        Assert.Null(await Drain(_queue.Reader)); // completed without error: the call ends with OK
        Assert.False(_overflow.IsCancellationRequested);
    }

    [Fact]
    public async Task A_client_that_does_not_read_ends_with_RESOURCE_EXHAUSTED_and_a_stopped_actor_with_UNAVAILABLE()
    {
        var registration = CreateTestProbe();
        var actuator = CreateTestProbe();
        var actor = Start(registration.Ref);
        Watch(actor);
        registration.ExpectMsg<RegisterSubsystem>(Wait);
        for (var i = 1; i <= 9; i++) actor.Tell(Throttle(i), actuator.Ref); // one more than the queue holds

        ExpectTerminated(actor, Wait);
        Assert.True(_overflow.IsCancellationRequested); // the call stops writing the queued messages
        Assert.Equal(StatusCode.ResourceExhausted, Assert.IsType<RpcException>(await Drain(_queue.Reader)).StatusCode);

        var other = Channel.CreateBounded<GovernorMessage>(8);
        var stopped = Sys.ActorOf(GovernStreamActor.Props(
            new RegisterSubsystem("other", "spec-host", 1, [ActionNames.Throttle], ActorRefs.Nobody), registration.Ref, _profilers.Ref, other.Writer,
            new GatewayMetrics(Prometheus.Metrics.NewCustomRegistry()), TimeSpan.FromSeconds(30), new CancellationTokenSource()));
        Sys.Stop(stopped); // e.g. the node shutting down
        Assert.Equal(StatusCode.Unavailable, Assert.IsType<RpcException>(await Drain(other.Reader)).StatusCode);
    }
}
