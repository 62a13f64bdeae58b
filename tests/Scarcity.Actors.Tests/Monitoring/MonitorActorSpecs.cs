using System.Collections.Immutable;
using Akka.Actor;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Monitoring;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.Tests.Monitoring;

/// <summary>
/// The fleet view's count of the subsystems on one host (what the registration front door's bound per host asks for each
/// registration), fed subsystem digests as the event bus delivers them.
/// </summary>
public sealed class MonitorActorSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly IActorRef _monitor;

    public MonitorActorSpecs(ITestOutputHelper output) : base(ActorSpecConfig.LocalNode, output: output) =>
        _monitor = Sys.ActorOf(MonitorActor.Props(TimeSpan.FromSeconds(10)), "monitor");

    private static SubsystemStatus Status(string name, string host) =>
        new(name, host, 1, ImmutableDictionary<string, double>.Empty, 0, 0, true, []);

    private void Digest(params SubsystemStatus[] statuses) =>
        _monitor.Tell(new SubsystemDigest("node", T0, [.. statuses], []));

    private int CountOn(string host, string except)
    {
        _monitor.Tell(new CountSubsystemsOnHost(host, except), TestActor);
        var answer = ExpectMsg<SubsystemsOnHost>(Wait);
        Assert.Equal(host, answer.Host);
        return answer.Count;
    }

    [Fact]
    public void It_counts_the_subsystems_of_a_host_without_the_one_asking_and_each_name_once()
    {
        Digest(Status("engine-1", "gpu-01"), Status("engine-2", "gpu-01"), Status("other", "gpu-02"));
        Digest(Status("engine-1", "gpu-01")); // a newer status of a known subsystem is not a second one

        Assert.Equal(2, CountOn("gpu-01", "engine-3"));
        Assert.Equal(1, CountOn("gpu-01", "engine-2"));
        Assert.Equal(1, CountOn("gpu-02", "engine-1"));
        Assert.Equal(0, CountOn("gpu-03", "engine-1"));
    }

    [Fact]
    public void A_subsystem_that_registers_on_another_host_counts_on_its_new_host_only()
    {
        Digest(Status("engine-1", "gpu-01"), Status("engine-2", "gpu-01"));

        Digest(Status("engine-2", "gpu-02"));

        Assert.Equal(1, CountOn("gpu-01", "new"));
        Assert.Equal(1, CountOn("gpu-02", "new"));
        Digest(Status("engine-1", "gpu-02"));
        Assert.Equal(0, CountOn("gpu-01", "new"));
        Assert.Equal(2, CountOn("gpu-02", "new"));
    }

    [Fact]
    public void The_registration_front_door_rejects_a_new_name_on_a_host_at_its_bound_by_this_count()
    {
        Digest(Status("engine-1", "gpu-01"), Status("engine-2", "gpu-01"));
        var actuators = CreateTestProbe("actuators");
        var registration = Sys.ActorOf(Scarcity.Actors.Registration.RegistrationActor.Props(actuators.Ref, maxSubsystemsPerHost: 2), "registration");
        var subsystem = CreateTestProbe("subsystem");
        var register = new RegisterSubsystem("engine-3", "gpu-01", 1, [ActionNames.ReduceBatch], subsystem.Ref);

        registration.Tell(register, subsystem.Ref);

        Assert.Equal("host 'gpu-01' already has 2 registered subsystems, the most one host may have (Scarcity:Operations:MaxSubsystemsPerHost = 2)",
            subsystem.ExpectMsg<RegistrationRejected>(Wait).Reason);
        registration.Tell(register with { Name = "engine-2" }, subsystem.Ref);
        Assert.Equal("engine-2", actuators.ExpectMsg<RegisterSubsystem>(Wait).Name);
    }
}
