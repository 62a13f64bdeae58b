using Grpc.Core;
using Scarcity.Actors.Gateway.V1;
using Xunit;

namespace Scarcity.Actors.Gateway.Tests;

/// <summary>Every malformed message ends its own call with INVALID_ARGUMENT naming the field, and nothing else stops.</summary>
public sealed class InvalidMessageSpecs : IAsyncLifetime
{
    private GatewayNode _node = null!;

    public async Task InitializeAsync() => _node = await GatewayNode.StartAsync(g => g.MaxMessageBytes = 4096);

    public async Task DisposeAsync() => await _node.DisposeAsync();

    public static TheoryData<string, string> FirstMessages() => new()
    {
        { "ack first", "register: the first message of a Govern stream must be register, was ack" },
        { "empty name", "register.name is empty" },
        { "upper-case name", "register.name 'Engine' is not a subsystem name" },
        { "name of 65 characters", "register.name '" + new string('a', 65) + "' is not a subsystem name" },
        { "no host", "register.host is empty" },
        { "no actions", "register.actions is empty" },
        { "invalid action", "register.actions[1] 'Shed-Load' is not an action name" },
        { "action twice", "register.actions[1] 'throttle' is declared twice" },
        { "NaN objective", "register.latency_objective_ms must be a finite number" },
        { "negative objective", "register.latency_objective_ms must be a finite number of milliseconds >= 0 (0: the governor's default), was -1" },
        { "bad reported metric", "register.reports[1] 'Context K' is not a metric name" },
        { "reported metric twice", "register.reports[1] 'context_k' is named twice" },
        { "empty message", "register: the first message of a Govern stream must be register, was a message without kind" },
    };

    private static SubsystemMessage First(string @case) => @case switch
    {
        "ack first" => new SubsystemMessage { Ack = new ThrottleAck { Sequence = 1 } },
        "empty name" => GatewayNode.Register(""),
        "upper-case name" => GatewayNode.Register("Engine"),
        "name of 65 characters" => GatewayNode.Register(new string('a', 65)),
        "no host" => GatewayNode.Register(host: ""),
        "no actions" => With(GatewayNode.Register(), r => r.Actions.Clear()),
        "invalid action" => GatewayNode.Register("engine", "spec-host", "throttle", "Shed-Load"),
        "action twice" => GatewayNode.Register("engine", "spec-host", "throttle", "throttle"),
        "NaN objective" => With(GatewayNode.Register(), r => r.LatencyObjectiveMs = double.NaN),
        "negative objective" => With(GatewayNode.Register(), r => r.LatencyObjectiveMs = -1),
        "bad reported metric" => With(GatewayNode.Register(), r => r.Reports.Add(["latency_ms", "Context K"])),
        "reported metric twice" => With(GatewayNode.Register(), r => r.Reports.Add(["context_k", "context_k"])),
        "empty message" => new SubsystemMessage(),
        _ => throw new ArgumentOutOfRangeException(nameof(@case)),
    };

    private static SubsystemMessage With(SubsystemMessage message, Action<Register> change)
    {
        change(message.Register);
        return message;
    }

    [Theory]
    [MemberData(nameof(FirstMessages))]
    public async Task A_bad_first_message_ends_the_call_with_INVALID_ARGUMENT_naming_the_field(string @case, string expected)
    {
        using var stream = _node.Open();
        await stream.SendAsync(First(@case));

        var status = await stream.EndAsync();

        Assert.Equal(StatusCode.InvalidArgument, status.StatusCode);
        Assert.StartsWith(expected, status.Detail);
        await A_good_stream_still_registers();
    }

    public static TheoryData<string, string> LaterMessages() => new()
    {
        { "second register", "register: a Govern stream registers once" },
        { "negative ack sequence", "ack.sequence must be >= 0, was -3" },
        { "NaN report", "report.values[\"latency_ms\"] must be a finite number, was NaN" },
        { "infinite report", "report.values[\"queue_depth\"] must be a finite number, was Infinity" },
        { "bad metric name", "report.values[\"Latency MS\"]: not a metric name" },
        { "empty report", "report.values is empty" },
    };

    private static SubsystemMessage Later(string @case)
    {
        var report = new MetricReport();
        switch (@case)
        {
            case "second register": return GatewayNode.Register();
            case "negative ack sequence": return new SubsystemMessage { Ack = new ThrottleAck { Sequence = -3 } };
            case "NaN report": report.Values["latency_ms"] = double.NaN; break;
            case "infinite report": report.Values["queue_depth"] = double.PositiveInfinity; break;
            case "bad metric name": report.Values["Latency MS"] = 1; break;
            case "empty report": break;
            default: throw new ArgumentOutOfRangeException(nameof(@case));
        }
        return new SubsystemMessage { Report = report };
    }

    [Theory]
    [MemberData(nameof(LaterMessages))]
    public async Task A_bad_later_message_ends_the_call_with_INVALID_ARGUMENT_naming_the_field_and_the_subsystem_goes(string @case, string expected)
    {
        using var stream = _node.Open();
        await stream.SendAsync(GatewayNode.Register());
        Assert.Equal(GovernorMessage.KindOneofCase.Registered, (await stream.NextAsync()).KindCase);
        await stream.SendAsync(Later(@case));

        var status = await stream.EndAsync();

        Assert.Equal(StatusCode.InvalidArgument, status.StatusCode);
        Assert.StartsWith(expected, status.Detail);
        await GatewayNode.Eventually(async () => Assert.False((await _node.SubsystemAsync("engine"))!.Reachable));
        await A_good_stream_still_registers();
    }

    [Fact]
    public async Task A_message_over_MaxMessageBytes_ends_its_call_with_RESOURCE_EXHAUSTED()
    {
        using var stream = _node.Open();
        await stream.SendAsync(GatewayNode.Register());
        await stream.NextAsync();
        var report = new MetricReport();
        for (var i = 0; i < 200; i++) report.Values[$"series_with_a_long_name_{i:000}"] = i; // about 8 KiB > 4 KiB
        await stream.SendAsync(new SubsystemMessage { Report = report });

        Assert.Equal(StatusCode.ResourceExhausted, (await stream.EndAsync()).StatusCode);
        await A_good_stream_still_registers();
    }

    [Theory]
    [InlineData(-1, "", "limit must be in 0..1000 (0: 20), was -1")]
    [InlineData(1001, "", "limit must be in 0..1000 (0: 20), was 1001")]
    [InlineData(10, "No Such Name", "subsystem 'No Such Name' is not a subsystem name")]
    public async Task A_bad_decisions_request_is_INVALID_ARGUMENT_naming_the_field(int limit, string subsystem, string expected)
    {
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await _node.Client.GetDecisionsAsync(new GetDecisionsRequest { Limit = limit, Subsystem = subsystem }));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith(expected, error.Status.Detail);
    }

    private async Task A_good_stream_still_registers()
    {
        using var stream = _node.Open();
        await stream.SendAsync(GatewayNode.Register("still-served"));
        Assert.Equal(GovernorMessage.KindOneofCase.Registered, (await stream.NextAsync()).KindCase);
    }
}
