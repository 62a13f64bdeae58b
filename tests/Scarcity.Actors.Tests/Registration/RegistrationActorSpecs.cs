using System.Collections.Immutable;
using Akka.Actor;
using Akka.TestKit;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Monitoring;
using Scarcity.Actors.Registration;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.Tests.Registration;

/// <summary>The registration front door alone, in front of a probe standing for the actuator shard region.</summary>
public sealed class RegistrationActorSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly TestProbe _actuators;
    private readonly IActorRef _registration;

    public RegistrationActorSpecs(ITestOutputHelper output) : base("akka.loglevel = WARNING", output: output)
    {
        _actuators = CreateTestProbe("actuators");
        _registration = Sys.ActorOf(RegistrationActor.Props(_actuators.Ref), RegistrationActor.Name);
    }

    private static RegisterSubsystem Valid(IActorRef subsystem) =>
        new("engine", "gpu-01", 5, [ActionNames.ReduceBatch, "flush_cache"], subsystem);

    public static TheoryData<string, Func<RegisterSubsystem, RegisterSubsystem>, string> Invalid => new()
    {
        { "empty name", r => r with { Name = "" }, "the subsystem name is empty" },
        { "blank name", r => r with { Name = "  " }, "the subsystem name is empty" },
        { "empty host", r => r with { Host = "" }, "subsystem 'engine' gave no host" },
        { "no actions", r => r with { Actions = [] }, "subsystem 'engine' declared no actions" },
        { "default actions", r => r with { Actions = default }, "subsystem 'engine' declared no actions" },
        { "upper-case name", r => r with { Name = "Engine" },
            "the subsystem name 'Engine' is invalid: a name has 1 to 64 characters: lower-case letters, digits, '_', '-' and '.'" },
        { "name with a space", r => r with { Name = "my engine" },
            "the subsystem name 'my engine' is invalid: a name has 1 to 64 characters: lower-case letters, digits, '_', '-' and '.'" },
        { "name of 65 characters", r => r with { Name = new string('e', 65) },
            $"the subsystem name '{new string('e', 65)}' is invalid: a name has 1 to 64 characters: lower-case letters, digits, '_', '-' and '.'" },
        { "host of 254 characters", r => r with { Host = new string('h', 254) },
            "subsystem 'engine' gave an invalid host: at most 253 characters, no control characters" },
        { "bad action names", r => r with { Actions = [ActionNames.Throttle, "Shed Load", "flush-cache", ""] },
            "subsystem 'engine' declared invalid action names: 'Shed Load', 'flush-cache', ''" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void An_invalid_registration_is_rejected_to_its_actor_naming_the_problem_and_never_reaches_an_actuator(
        string problem, Func<RegisterSubsystem, RegisterSubsystem> spoil, string reason)
    {
        var subsystem = CreateTestProbe("subsystem");
        var register = spoil(Valid(subsystem.Ref));

        _registration.Tell(register, TestActor);

        var rejected = subsystem.ExpectMsg<RegistrationRejected>(Wait);
        Assert.True(reason == rejected.Reason, $"{problem}: {rejected.Reason}");
        Assert.Equal(register.Name, rejected.Name);
        ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // the answer went to the registering actor, not to the sender
        _actuators.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_registration_without_an_actor_is_rejected_to_its_sender(bool nobody)
    {
        var sender = CreateTestProbe("sender");
        var register = Valid(nobody ? ActorRefs.Nobody : null!);

        _registration.Tell(register, sender.Ref);

        var rejected = sender.ExpectMsg<RegistrationRejected>(Wait);
        Assert.Equal("the registration carries no actor to send Throttles to", rejected.Reason);
        _actuators.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void A_registration_of_a_null_name_is_rejected_with_an_empty_name()
    {
        var subsystem = CreateTestProbe("subsystem");

        _registration.Tell(Valid(subsystem.Ref) with { Name = null! }, subsystem.Ref);

        var rejected = subsystem.ExpectMsg<RegistrationRejected>(Wait);
        Assert.Equal(("", "the subsystem name is empty"), (rejected.Name, rejected.Reason));
    }

    [Fact]
    public void A_valid_registration_is_forwarded_to_the_actuators_with_its_sender()
    {
        var subsystem = CreateTestProbe("subsystem");
        var register = Valid(subsystem.Ref);

        _registration.Tell(register, subsystem.Ref);

        Assert.Same(register, _actuators.ExpectMsg<RegisterSubsystem>(Wait));
        Assert.Equal(subsystem.Ref, _actuators.LastSender);
        subsystem.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    /// <summary>The fleet view at /user/monitor, knowing <paramref name="names"/> on host gpu-01 (its count query as <see cref="MonitorActor"/> answers it).</summary>
    private sealed class FleetView : ReceiveActor
    {
        public FleetView(string[] names) => Receive<CountSubsystemsOnHost>(q => Sender.Tell(new SubsystemsOnHost(q.Host,
            q.Host == "gpu-01" ? names.Count(n => n != q.Except) : 0)));
    }

    [Fact]
    public void A_new_name_on_a_host_at_its_bound_is_rejected_naming_the_limit_and_a_known_name_or_another_host_still_registers()
    {
        var known = new[] { "engine-1", "engine-2" };
        Sys.ActorOf(Props.Create(() => new FleetView(known)), "monitor");
        var bounded = Sys.ActorOf(RegistrationActor.Props(_actuators.Ref, maxSubsystemsPerHost: 2), "bounded-policy");
        var subsystem = CreateTestProbe("subsystem");

        bounded.Tell(Valid(subsystem.Ref) with { Name = "engine-3" }, subsystem.Ref);

        var rejected = subsystem.ExpectMsg<RegistrationRejected>(Wait);
        Assert.Equal("host 'gpu-01' already has 2 registered subsystems, the most one host may have (Scarcity:Operations:MaxSubsystemsPerHost = 2)",
            rejected.Reason);
        _actuators.ExpectNoMsg(TimeSpan.FromMilliseconds(300));

        bounded.Tell(Valid(subsystem.Ref) with { Name = "engine-2" }, subsystem.Ref); // a known name registers again
        Assert.Equal("engine-2", _actuators.ExpectMsg<RegisterSubsystem>(Wait).Name);
        Assert.Equal(subsystem.Ref, _actuators.LastSender);
        bounded.Tell(Valid(subsystem.Ref) with { Name = "engine-3", Host = "gpu-02" }, subsystem.Ref);
        Assert.Equal("gpu-02", _actuators.ExpectMsg<RegisterSubsystem>(Wait).Host);
    }

    [Fact]
    public void Acks_and_status_queries_are_forwarded_to_the_actuators_with_their_sender()
    {
        var subsystem = CreateTestProbe("subsystem");
        var ack = new ThrottleAck("engine", 3, true, "applied", "gpu-01");
        var query = new GetSubsystemStatus("engine", "gpu-01");

        _registration.Tell(ack, subsystem.Ref);
        Assert.Same(ack, _actuators.ExpectMsg<ThrottleAck>(Wait));
        Assert.Equal(subsystem.Ref, _actuators.LastSender);
        _registration.Tell(query, TestActor);
        Assert.Same(query, _actuators.ExpectMsg<GetSubsystemStatus>(Wait));
        Assert.Equal(TestActor, _actuators.LastSender);
        _actuators.Reply(new SubsystemStatus("engine", "gpu-01", 5, ImmutableDictionary<string, double>.Empty, 3, 3, true, []));
        Assert.Equal(3, ExpectMsg<SubsystemStatus>(Wait).LastAckedSequence); // the answer comes straight back to the asker
    }

    [Fact]
    public void An_ack_or_status_query_that_names_no_host_and_is_not_in_the_directory_goes_to_the_actuator_of_no_host()
    {
        // Older senders name no host; without a directory entry the actuator "a||engine" answers from the journal or
        // passes it on to the host the journal names (HostPlacementSpecs runs that path on a real node).
        _registration.Tell(new ThrottleAck("engine", 3, true, "applied"), TestActor);
        Assert.Equal(new ThrottleAck("engine", 3, true, "applied", ""), _actuators.ExpectMsg<ThrottleAck>(Wait));
        _registration.Tell(new GetSubsystemStatus("engine"), TestActor);
        Assert.Equal(new GetSubsystemStatus("engine", ""), _actuators.ExpectMsg<GetSubsystemStatus>(Wait));
    }
}
