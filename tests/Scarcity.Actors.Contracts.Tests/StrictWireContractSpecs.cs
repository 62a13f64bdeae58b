using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Configuration;
using Scarcity.Actors.Contracts;
using Xunit;

namespace Scarcity.Actors.Contracts.Tests;

/// <summary>What <see cref="ScarcitySerialization"/> refuses, and the names a subsystem may have.</summary>
public sealed class StrictWireContractSpecs() : Akka.TestKit.Xunit2.TestKit(
    ConfigurationFactory.ParseString("scarcity.serialization.maximum-payload-size = 64KiB").WithFallback(ScarcitySerialization.Config))
{
    private ScarcitySerializer Serializer => (ScarcitySerializer)Sys.Serialization.FindSerializerFor(new ThrottleAck("a", 1, true, ""));

    [Fact]
    public void A_payload_over_the_configured_limit_is_refused_before_it_is_parsed_and_counted()
    {
        var ack = Serializer.ToBinary(new ThrottleAck("engine", 1, true, new string('x', 70 * 1024)));

        var error = Assert.Throws<SerializationException>(() => Serializer.FromBinary(ack, "throttle-ack.v1"));

        Assert.Equal(64 * 1024, Serializer.MaximumPayloadSize);
        Assert.Contains("over the limit of 65536 bytes", error.Message);
        Assert.Equal(1, WireRefusals.Get(Sys).Count(WireRefusals.TooLarge));
    }

    [Theory]
    [InlineData("{\"subsystem\":")]
    [InlineData("{\"$type\":\"System.Diagnostics.Process, System.Diagnostics.Process\",\"subsystem\":{}}")]
    public void A_declared_manifest_with_a_body_that_does_not_parse_is_refused_and_counted(string body)
    {
        var error = Assert.Throws<SerializationException>(() => Serializer.FromBinary(System.Text.Encoding.UTF8.GetBytes(body), "throttle-ack.v1"));

        Assert.Contains("throttle-ack.v1", error.Message);
        Assert.Equal(1, WireRefusals.Get(Sys).Count(WireRefusals.Malformed));
    }

    [Fact]
    public void A_payload_deeper_than_our_messages_nest_is_refused()
    {
        var deep = new string('[', 100) + new string(']', 100);
        var body = $"{{\"subsystem\":\"e\",\"sequence\":1,\"applied\":true,\"detail\":\"\",\"x\":{deep}}}";

        Assert.Throws<SerializationException>(() => Serializer.FromBinary(System.Text.Encoding.UTF8.GetBytes(body), "throttle-ack.v1"));
    }

    [Fact]
    public void Akka_s_newtonsoft_json_identifier_is_held_by_the_disabled_serializer_on_every_system_bound_with_ours()
    {
        var serializer = Sys.Serialization.FindSerializerForType(typeof(object));
        Assert.IsType<DisabledJsonSerializer>(serializer);
        Assert.Equal(1, serializer.Identifier);

        var error = Assert.Throws<SerializationException>(() =>
            Sys.Serialization.Deserialize("{\"$type\":\"System.Object\"}"u8.ToArray(), 1, typeof(object)));
        Assert.Contains("disabled", error.Message);
        Assert.Equal(1, WireRefusals.Get(Sys).Count(WireRefusals.DisabledSerializer));
    }

    [Fact]
    public void The_remoting_frame_is_limited_to_128000_bytes()
    {
        Assert.Equal(128000, Sys.Settings.Config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size"));
    }

    [Fact]
    public void An_operator_credential_never_prints_its_token()
    {
        var credential = new OperatorCredential("alice@ops", "s3cret-token-0123456789");
        Assert.DoesNotContain("s3cret", credential.ToString());
        Assert.DoesNotContain("s3cret", new LeaveMember("akka.tcp://scarcity@h:1", credential).ToString());
    }

    [Theory]
    [InlineData("inference_engine", true)]
    [InlineData("engine-7.eu", true)]
    [InlineData("a", true)]
    [InlineData("", false)]
    [InlineData("Engine", false)]
    [InlineData("engine one", false)]
    [InlineData("engine/1", false)]
    [InlineData("ëngine", false)]
    public void Subsystem_names_are_lower_case_letters_digits_underscore_dash_and_dot(string name, bool valid) =>
        Assert.Equal(valid, SubsystemNames.IsValid(name));

    [Fact]
    public void Subsystem_names_have_at_most_64_characters()
    {
        Assert.True(SubsystemNames.IsValid(new string('a', 64)));
        Assert.False(SubsystemNames.IsValid(new string('a', 65)));
        Assert.False(SubsystemNames.IsValid(null));
    }

    [Fact]
    public void The_origin_of_a_message_through_a_cluster_client_tunnel_is_the_client_s_address()
    {
        var client = "akka.tcp://cli@10.0.0.9:40123/temp/$a";
        var tunnel = new EmptyLocalActorRef(((ExtendedActorSystem)Sys).Provider,
            ActorPath.Parse($"akka.tcp://scarcity@10.0.0.1:4053/system/receptionist/{Uri.EscapeDataString(client)}"), Sys.EventStream);

        Assert.Equal(Address.Parse("akka.tcp://cli@10.0.0.9:40123"), MessageOrigin.Of(tunnel));
        Assert.Equal(Address.Parse("akka.tcp://scarcity@10.0.0.1:4053"), MessageOrigin.Of(
            new EmptyLocalActorRef(((ExtendedActorSystem)Sys).Provider, ActorPath.Parse("akka.tcp://scarcity@10.0.0.1:4053/user/x"), Sys.EventStream)));
    }
}
