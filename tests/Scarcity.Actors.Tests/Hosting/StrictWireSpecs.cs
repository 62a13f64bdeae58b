using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Akka.Serialization;
using Akka.TestKit;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Metrics;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.Tests.Hosting;

/// <summary>
/// The governor's wire as a hostile peer sees it: a second actor system with Akka's default configuration (Newtonsoft
/// JSON bound to <c>System.Object</c>, <c>$type</c> in the body) sends over real remoting to an actor of a node bound
/// as every governor node, client and CLI is (<see cref="ScarcitySerialization"/>).
/// </summary>
public sealed class StrictWireSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly ActorSystem _attacker;
    private readonly TestProbe _target;

    public StrictWireSpecs(ITestOutputHelper output) : base(ActorSpecConfig.LocalNode, "scarcity", output)
    {
        _target = CreateTestProbe("target");
        _attacker = ActorSystem.Create("attacker", ConfigurationFactory.ParseString($$"""
            akka.loglevel = WARNING
            akka.actor.provider = remote
            akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
            akka.actor.serializers.forged = "{{typeof(ForgedManifestSerializer).AssemblyQualifiedName}}"
            akka.actor.serialization-bindings { "{{typeof(ForgedManifest).AssemblyQualifiedName}}" = forged }
            """));
    }

    protected override void AfterAll()
    {
        Shutdown(_attacker, Wait);
        base.AfterAll();
    }

    private ActorSelection TargetFromAttacker =>
        _attacker.ActorSelection(new RootActorPath(((ExtendedActorSystem)Sys).Provider.DefaultAddress) / _target.Ref.Path.Elements);

    // After the payload, an Identify on the same association: its answer means the payload was read (or refused) first.
    private async Task AwaitDelivered()
    {
        var identity = await TargetFromAttacker.Ask<ActorIdentity>(new Identify("after"), Wait);
        Assert.NotNull(identity.Subject);
    }

    [Fact]
    public async Task A_newtonsoft_payload_naming_a_type_is_refused_before_the_type_is_created_and_counted()
    {
        var created = WireGadget.Created;

        TargetFromAttacker.Tell(new WireGadget("payload"));
        await AwaitDelivered();

        Assert.Equal(created, WireGadget.Created);
        _target.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        Assert.Equal(1, WireRefusals.Get(Sys).Count(WireRefusals.DisabledSerializer));
        var metrics = GovernorMetrics.Get(Sys);
        using var text = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(text);
        Assert.Contains("scarcity_wire_messages_refused_total{reason=\"disabled_serializer\"} 1", Encoding.UTF8.GetString(text.ToArray()));
    }

    [Fact]
    public async Task A_payload_under_our_serializer_with_an_undeclared_manifest_is_refused_and_counted()
    {
        TargetFromAttacker.Tell(new ForgedManifest());
        await AwaitDelivered();

        _target.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        Assert.Equal(1, WireRefusals.Get(Sys).Count(WireRefusals.UnknownManifest));
    }

    [Fact]
    public void A_declared_message_still_arrives_from_a_peer_bound_to_our_serializer()
    {
        var peer = ActorSystem.Create("peer", ConfigurationFactory.ParseString("""
            akka.loglevel = WARNING
            akka.actor.provider = remote
            akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
            """).WithFallback(ScarcitySerialization.Config));
        try
        {
            peer.ActorSelection(new RootActorPath(((ExtendedActorSystem)Sys).Provider.DefaultAddress) / _target.Ref.Path.Elements)
                .Tell(new ThrottleAck("engine", 7, true, "applied"));
            Assert.Equal(new ThrottleAck("engine", 7, true, "applied"), _target.ExpectMsg<ThrottleAck>(Wait));
        }
        finally
        {
            Shutdown(peer, Wait);
        }
    }

    [Fact]
    public void A_type_with_no_binding_cannot_be_sent_and_the_error_names_it()
    {
        var serialization = Sys.Serialization;

        var serializer = serialization.FindSerializerFor(new WireGadget("local"));
        var error = Assert.Throws<SerializationException>(() => serializer.ToBinary(new WireGadget("local")));

        Assert.IsType<DisabledJsonSerializer>(serializer);
        Assert.Contains(typeof(WireGadget).FullName!, error.Message);
    }
}

/// <summary>A type a hostile peer names: its parameterless constructor (the one a JSON reader calls) counts.</summary>
public sealed class WireGadget
{
    private static int _created;

    /// <summary>How many were created by a reader.</summary>
    public static int Created => Volatile.Read(ref _created);

    /// <summary>What a reader calls.</summary>
    public WireGadget() => Interlocked.Increment(ref _created);

    /// <summary>What the attacker calls.</summary>
    public WireGadget(string marker) => Marker = marker;

    /// <summary>Carried along.</summary>
    public string Marker { get; set; } = "";
}

/// <summary>A message the attacker writes under <see cref="ScarcitySerializer.SerializerId"/> with a manifest we never declared.</summary>
public sealed record ForgedManifest;

/// <summary>The attacker's serializer: our identifier, a forged manifest, a body that would parse as anything.</summary>
public sealed class ForgedManifestSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <inheritdoc />
    public override int Identifier => ScarcitySerializer.SerializerId;

    /// <inheritdoc />
    public override string Manifest(object o) => "System.Diagnostics.Process, System.Diagnostics.Process";

    /// <inheritdoc />
    public override byte[] ToBinary(object obj) => "{\"$type\":\"System.Diagnostics.Process, System.Diagnostics.Process\"}"u8.ToArray();

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest) => throw new NotSupportedException();
}
