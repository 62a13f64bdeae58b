using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using Scarcity.Actors.ClusterTests.Harness;
using Scarcity.Actors.Gateway.V1;
using Xunit;
using Xunit.Abstractions;

namespace Scarcity.Actors.ClusterTests;

/// <summary>
/// Failover behind the gateway: three governor processes on one PostgreSQL, 20 gRPC subsystems on node1's gateway; kill -9
/// of node2 (which hosts about a third of their actuators). The streams stay open, those whose actuator died get a second
/// Registered from its successor, and then every subsystem is governed again: its queue report crosses its rule, the
/// Throttle reaches its stream and the ack reaches the actuator, wherever it now runs. A gateway subsystem fails over as
/// a .NET client does.
/// </summary>
public sealed class GatewayFailoverSpecs(PostgresFixture postgres, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    // Each on a host of its own: an actuator lives in its host's shard (issue 15), so each lands on node2 with odds of
    // about 1 in 3, and 20 make a miss vanishingly rare (subsystems of one host would all share one node).
    private const int Subsystems = 20;
    private static readonly TimeSpan Formation = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan Failover = TimeSpan.FromSeconds(90);

    // The only rule (the defaults, e.g. on the loaded machine's CPU, would throttle at random times).
    private static readonly string[] QueueRule =
    [
        "--Scarcity:Policy:Policies:*:0:Metric=queue_depth", "--Scarcity:Policy:Policies:*:0:Threshold=10",
        "--Scarcity:Policy:Policies:*:0:Action=reduce_batch", "--Scarcity:Policy:Policies:*:0:Factor=0.5",
        "--Scarcity:Policy:Policies:*:0:Signal=Raw",
    ];

    [Fact]
    public async Task Kill_9_of_the_node_holding_some_actuators_re_registers_their_gateway_streams_with_the_successors()
    {
        var ports = new HashSet<int>();
        while (ports.Count < 4) ports.Add(RepoPaths.FreePort());
        var port = ports.ToArray();
        int[] seeds = [port[0], port[1]];
        var clock = Stopwatch.StartNew();
        var nodes = new NodeProcess[3];
        for (var i = 0; i < 3; i++)
            nodes[i] = NodeProcess.Start(new NodeOptions($"gw-node{i + 1}", $"gpu-node-{i + 1}", port[i], seeds, postgres.ConnectionString,
                StableAfterSeconds: 5, GatewayPort: i == 0 ? port[3] : 0, ExtraArgs: QueueRule));
        var streams = new List<AsyncDuplexStreamingCall<SubsystemMessage, GovernorMessage>>();
        try
        {
            await nodes[0].WaitForLineAsync("Gateway: scarcity.v1.Governor on", Formation);
            using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port[3]}");
            var client = new Governor.GovernorClient(channel);
            await Eventually(async () => Assert.Equal(3, (await client.GetFleetStatusAsync(new GetFleetStatusRequest())).Hosts.Count), Formation);
            output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0} s  cluster formed");

            var registrations = Enumerable.Range(0, Subsystems).Select(_ => new ConcurrentQueue<Registered>()).ToArray();
            var throttles = Enumerable.Range(0, Subsystems).Select(_ => new ConcurrentQueue<Throttle>()).ToArray();
            var writing = Enumerable.Range(0, Subsystems).Select(_ => new SemaphoreSlim(1)).ToArray();
            var readers = new List<Task>();
            for (var i = 0; i < Subsystems; i++)
            {
                var call = client.Govern();
                streams.Add(call);
                var register = new Register { Name = $"gw-y-{i}", Host = $"gw-host-{i}", Priority = 1 };
                register.Actions.Add(["throttle", "reduce_batch"]);
                await call.RequestStream.WriteAsync(new SubsystemMessage { Register = register });
                var (seen, applied, gate) = (registrations[i], throttles[i], writing[i]);
                readers.Add(Task.Run(async () =>
                {
                    while (await call.ResponseStream.MoveNext(CancellationToken.None))
                    {
                        var message = call.ResponseStream.Current;
                        if (message.KindCase == GovernorMessage.KindOneofCase.Registered) seen.Enqueue(message.Registered);
                        else if (message.KindCase == GovernorMessage.KindOneofCase.Throttle)
                        {
                            applied.Enqueue(message.Throttle);
                            await gate.WaitAsync();
                            try { await call.RequestStream.WriteAsync(new SubsystemMessage { Ack = new ThrottleAck { Sequence = message.Throttle.Sequence, Applied = true } }); }
                            finally { gate.Release(); }
                        }
                    }
                }));
            }
            await Eventually(() =>
            {
                Assert.All(registrations, r => Assert.Single(r));
                return Task.CompletedTask;
            }, Formation);
            output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0} s  {Subsystems} gateway subsystems registered");

            nodes[1].Kill();
            var killed = clock.Elapsed;
            await Eventually(() =>
            {
                Assert.Contains(registrations, r => r.Count >= 2);
                return Task.CompletedTask;
            }, Failover);
            output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0} s  first re-registration, {(clock.Elapsed - killed).TotalSeconds:0.0} s after the kill");

            // Every subsystem's queue crosses its rule now: each must get its Throttle, and its ack must reach the actuator.
            using var reporting = new CancellationTokenSource();
            var reports = Task.Run(async () =>
            {
                while (!reporting.IsCancellationRequested)
                {
                    for (var i = 0; i < Subsystems; i++)
                    {
                        if (!throttles[i].IsEmpty) continue;
                        var report = new MetricReport();
                        report.Values["queue_depth"] = 50;
                        await writing[i].WaitAsync();
                        try { await streams[i].RequestStream.WriteAsync(new SubsystemMessage { Report = report }); }
                        finally { writing[i].Release(); }
                    }
                    await Task.Delay(500);
                }
            });
            await Eventually(async () =>
            {
                var fleet = await client.GetFleetStatusAsync(new GetFleetStatusRequest());
                for (var i = 0; i < Subsystems; i++)
                {
                    Assert.True(throttles[i].TryPeek(out var throttle), $"gw-y-{i} got no Throttle");
                    Assert.Equal(0.5, throttle.Level);
                    var status = Assert.Single(fleet.Subsystems, s => s.Name == $"gw-y-{i}");
                    Assert.True(status.Reachable, $"gw-y-{i} unreachable");
                    Assert.True(status.LastAckedSequence >= throttle.Sequence, $"gw-y-{i}: ack of {throttle.Sequence} not seen ({status.LastAckedSequence})");
                }
            }, Failover);
            await reporting.CancelAsync();
            await reports;
            Assert.All(readers, r => Assert.False(r.IsCompleted, "a stream ended during the failover"));
            var moved = registrations.Count(r => r.Count >= 2);
            output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0} s  {moved} of {Subsystems} streams re-registered; every subsystem governed and acked");
        }
        catch
        {
            foreach (var node in nodes) output.WriteLine(node.Tail(40));
            throw;
        }
        finally
        {
            foreach (var call in streams) call.Dispose();
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }

    private static async Task Eventually(Func<Task> assert, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            try
            {
                await assert();
                return;
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(500);
            }
        }
    }
}
