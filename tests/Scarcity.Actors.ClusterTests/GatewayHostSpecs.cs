using Grpc.Core;
using Grpc.Net.Client;
using Scarcity.Actors.ClusterTests.Harness;
using Scarcity.Actors.Gateway.V1;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.ClusterTests;

/// <summary>
/// A governor process (the Host, SQLite, its real sensor) serving its gRPC gateway on a free port, and a subsystem
/// that speaks only gRPC (a client generated from proto/scarcity/v1/governor.proto, as a Python engine's would be):
/// it registers, reports a queue that crosses its rule, gets and acks the Throttle; the stream closing is the subsystem
/// gone; a new stream gets the current levels; the node stopping ends the stream with UNAVAILABLE.
/// </summary>
public sealed class GatewayHostSpecs(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_gRPC_subsystem_is_governed_by_a_Host_process_through_its_gateway()
    {
        var port = RepoPaths.FreePort();
        var gatewayPort = RepoPaths.FreePort();
        while (gatewayPort == port) gatewayPort = RepoPaths.FreePort();
        string[] rule =
        [
            "--Scarcity:Policy:Policies:py-engine:0:Metric=queue_depth", "--Scarcity:Policy:Policies:py-engine:0:Threshold=10",
            "--Scarcity:Policy:Policies:py-engine:0:Action=throttle", "--Scarcity:Policy:Policies:py-engine:0:Factor=0.5",
            "--Scarcity:Policy:Policies:py-engine:0:Signal=Raw",
        ];
        await using var node = NodeProcess.Start(new NodeOptions(
            "gateway-node", "gateway-host", port, [], "Data Source=./data/scarcity.db", Provider: "Sqlite", ExtraArgs: rule, GatewayPort: gatewayPort));
        try
        {
            await node.WaitForLineAsync("Gateway: scarcity.v1.Governor on", Wait);
            using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{gatewayPort}");
            var client = new Governor.GovernorClient(channel);

            var stream = client.Govern();
            await stream.RequestStream.WriteAsync(Register());
            var registered = await NextAsync(stream);
            Assert.Equal(GovernorMessage.KindOneofCase.Registered, registered.KindCase);
            Assert.Equal(1.0, registered.Registered.Levels["throttle"]);

            // Reports at 4 Hz until the governor acts on them.
            using var reporting = new CancellationTokenSource();
            var reports = Task.Run(async () =>
            {
                while (!reporting.IsCancellationRequested)
                {
                    var report = new MetricReport();
                    report.Values["queue_depth"] = 50;
                    await stream.RequestStream.WriteAsync(new SubsystemMessage { Report = report });
                    await Task.Delay(250, reporting.Token);
                }
            });
            var throttle = await NextAsync(stream);
            await reporting.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reports);
            Assert.Equal(GovernorMessage.KindOneofCase.Throttle, throttle.KindCase);
            Assert.Equal("throttle", throttle.Throttle.Action);
            Assert.Equal(0.5, throttle.Throttle.Level);
            Assert.Contains("queue_depth", throttle.Throttle.Reason);
            await stream.RequestStream.WriteAsync(new SubsystemMessage { Ack = new ThrottleAck { Sequence = throttle.Throttle.Sequence, Applied = true } });
            await Eventually(async () =>
            {
                var status = await Subsystem(client);
                Assert.True(status.Reachable);
                Assert.Equal(throttle.Throttle.Sequence, status.LastAckedSequence);
            });
            var decisions = await client.GetDecisionsAsync(new GetDecisionsRequest { Subsystem = "py-engine" });
            Assert.Contains(decisions.Decisions, d => d.Action == "throttle" && d.Level == 0.5 && d.Sent);

            stream.Dispose(); // the engine's process goes away
            await Eventually(async () => Assert.False((await Subsystem(client)).Reachable));

            var again = client.Govern();
            await again.RequestStream.WriteAsync(Register());
            var back = await NextAsync(again);
            Assert.Equal(GovernorMessage.KindOneofCase.Registered, back.KindCase);
            Assert.Equal(0.5, back.Registered.Levels["throttle"]);
            Assert.Equal(throttle.Throttle.Sequence, back.Registered.LastSequence);

            // SIGTERM: the node leaves, and first ends the streams it serves.
            var ending = Task.Run(async () =>
            {
                try
                {
                    while (await again.ResponseStream.MoveNext(CancellationToken.None)) { }
                    return again.GetStatus().StatusCode;
                }
                catch (RpcException e)
                {
                    return e.StatusCode;
                }
            });
            await node.StopAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(StatusCode.Unavailable, await ending.WaitAsync(Wait));
            again.Dispose();
        }
        catch
        {
            output.WriteLine(node.Tail(80));
            throw;
        }
    }

    private static SubsystemMessage Register()
    {
        var register = new Register { Name = "py-engine", Host = "gateway-host", Priority = 2, LatencyObjectiveMs = 300 };
        register.Actions.Add(["throttle", "reduce_batch"]);
        return new SubsystemMessage { Register = register };
    }

    private static async Task<GovernorMessage> NextAsync(AsyncDuplexStreamingCall<SubsystemMessage, GovernorMessage> call)
    {
        var next = call.ResponseStream.MoveNext(CancellationToken.None);
        if (await Task.WhenAny(next, Task.Delay(Wait)) != next) throw new TimeoutException($"no governor message within {Wait.TotalSeconds:0} s");
        Assert.True(await next, "the Govern stream ended");
        return call.ResponseStream.Current;
    }

    private static async Task<SubsystemStatus> Subsystem(Governor.GovernorClient client) =>
        Assert.Single((await client.GetFleetStatusAsync(new GetFleetStatusRequest())).Subsystems, s => s.Name == "py-engine");

    private static async Task Eventually(Func<Task> assert)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            try
            {
                await assert();
                return;
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(250);
            }
        }
    }
}
