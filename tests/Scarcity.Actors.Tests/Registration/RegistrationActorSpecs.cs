using System.Collections.Immutable;
using Akka.Actor;
using Akka.TestKit;
using Scarcity.Actors.Contracts;
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

    [Fact]
    public void Acks_and_status_queries_are_forwarded_to_the_actuators_with_their_sender()
    {
        var subsystem = CreateTestProbe("subsystem");
        var ack = new ThrottleAck("engine", 3, true, "applied");
        var query = new GetSubsystemStatus("engine");

        _registration.Tell(ack, subsystem.Ref);
        Assert.Same(ack, _actuators.ExpectMsg<ThrottleAck>(Wait));
        Assert.Equal(subsystem.Ref, _actuators.LastSender);
        _registration.Tell(query, TestActor);
        Assert.Same(query, _actuators.ExpectMsg<GetSubsystemStatus>(Wait));
        Assert.Equal(TestActor, _actuators.LastSender);
        _actuators.Reply(new SubsystemStatus("engine", "gpu-01", 5, ImmutableDictionary<string, double>.Empty, 3, 3, true, []));
        Assert.Equal(3, ExpectMsg<SubsystemStatus>(Wait).LastAckedSequence); // the answer comes straight back to the asker
    }
}
