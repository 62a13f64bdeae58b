using Scarcity.Actors.Actuation;
using Scarcity.Actors.Contracts;
using Xunit;

namespace Scarcity.Actors.Core.Tests.Actuation;

public sealed class RegistrationArbitrationSpecs
{
    private static readonly SubsystemClaim Holder =
        new("akka.tcp://scarcity-subsystem@10.0.0.5:41000/user/subsystem", 17, "gpu-01", 5, [ActionNames.ReduceBatch, ActionNames.Throttle]);

    private static readonly SubsystemClaim Other = Holder with { Holder = "akka.tcp://scarcity-subsystem@10.0.0.5:41999/user/subsystem", Incarnation = 3 };

    [Fact]
    public void The_first_registration_of_a_name_is_accepted()
    {
        var verdict = RegistrationArbitration.Decide(null, currentReachable: false, Holder);

        Assert.Equal(RegistrationVerdict.Accepted, verdict);
    }

    [Fact]
    public void Another_actor_is_rejected_while_the_holder_is_reachable()
    {
        var verdict = RegistrationArbitration.Decide(Holder, currentReachable: true, Other);

        Assert.Equal(RegistrationVerdict.Rejected, verdict);
    }

    [Fact]
    public void Another_actor_takes_the_name_over_once_the_holder_is_marked_down()
    {
        var verdict = RegistrationArbitration.Decide(Holder, currentReachable: false, Other);

        Assert.Equal(RegistrationVerdict.Accepted, verdict);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_holder_registering_again_unchanged_is_renewed_without_a_new_event(bool reachable)
    {
        var again = Holder with { Actions = [ActionNames.ReduceBatch, ActionNames.Throttle] }; // equal content, another array

        var verdict = RegistrationArbitration.Decide(Holder, reachable, again);

        Assert.Equal(RegistrationVerdict.Renewed, verdict);
    }

    [Fact]
    public void The_holders_path_created_again_with_another_uid_is_accepted_while_reachable()
    {
        var restarted = Holder with { Incarnation = 18 };

        var verdict = RegistrationArbitration.Decide(Holder, currentReachable: true, restarted);

        Assert.Equal(RegistrationVerdict.Accepted, verdict);
    }

    public static TheoryData<string, SubsystemClaim> Changes => new()
    {
        { "host", Holder with { Host = "gpu-02" } },
        { "priority", Holder with { Priority = 9 } },
        { "an action more", Holder with { Actions = [ActionNames.ReduceBatch, ActionNames.Throttle, ActionNames.ShedLoad] } },
        { "the actions reordered", Holder with { Actions = [ActionNames.Throttle, ActionNames.ReduceBatch] } },
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public void The_holder_registering_again_with_a_change_is_accepted_and_persisted(string change, SubsystemClaim changed)
    {
        var verdict = RegistrationArbitration.Decide(Holder, currentReachable: true, changed);

        Assert.True(verdict == RegistrationVerdict.Accepted, $"{change}: {verdict}");
    }

    [Fact]
    public void Paths_are_compared_whole_the_same_actor_name_on_another_address_is_another_actor()
    {
        var elsewhere = Holder with { Holder = "akka.tcp://scarcity-subsystem@10.0.0.6:41000/user/subsystem" };

        var verdict = RegistrationArbitration.Decide(Holder, currentReachable: true, elsewhere);

        Assert.Equal(RegistrationVerdict.Rejected, verdict);
    }
}
