using Akka.Actor;
using System.Collections.Immutable;
using Grpc.Core;
using Status = Grpc.Core.Status;
using Grpc.Net.Client;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Gateway.V1;
using Scarcity.Actors.Policies;
using Scarcity.Actors.Testing;
using Xunit;

namespace Scarcity.Actors.Gateway.Tests;

/// <summary>
/// A real governor node (<see cref="GovernorHost"/>: one-node cluster, SQLite journal) with its gateway on a free
/// loopback port and a gRPC client of it. The node's rule: raw <c>vram_util</c> above 0.85 halves <c>reduce_batch</c>.
/// </summary>
internal sealed class GatewayNode : IAsyncDisposable
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    public static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private GatewayNode(GovernorHost host, GatewayServer server, GrpcChannel channel)
    {
        Host = host;
        Server = server;
        Channel = channel;
        Client = new Governor.GovernorClient(channel);
    }

    public GovernorHost Host { get; }
    public GatewayServer Server { get; }
    public GrpcChannel Channel { get; }
    public Governor.GovernorClient Client { get; }

    public static async Task<GatewayNode> StartAsync(Action<GatewayConfig>? gateway = null, Func<GatewayServer, GrpcChannel>? channel = null,
        Microsoft.Extensions.Logging.ILoggerFactory? logs = null)
    {
        var config = GovernorHost.SpecConfig();
        config.Policy.Policies["*"] = [new PolicyRule(MetricNames.VramUtil, 0.85, ActionNames.ReduceBatch, 0.5) { Signal = SignalKind.Raw }];
        config.Policy.Cooldown = TimeSpan.FromSeconds(5);
        config.Policy.RecoveryDelay = TimeSpan.Zero;
        config.Gateway.Port = GovernorHost.FreePort();
        gateway?.Invoke(config.Gateway);
        var host = await GovernorHost.StartAsync(config);
        try
        {
            var server = await GatewayServer.StartAsync(host.System, host.Registry, config.Gateway, logs);
            return new GatewayNode(host, server, channel?.Invoke(server) ?? GrpcChannel.ForAddress(server.Address));
        }
        catch
        {
            await host.DisposeAsync();
            host.DeleteDatabase();
            throw;
        }
    }

    /// <summary>A sample of the node's host with <paramref name="vram"/> as its VRAM utilisation, <paramref name="seconds"/> after T0.</summary>
    public void Sample(double vram, double seconds) =>
        Host.Profilers.Tell(new Sample(Host.Config.Host, T0.AddSeconds(seconds), [new MetricValue(MetricNames.VramUtil, vram)], ImmutableArray<string>.Empty));

    public GovernStream Open(Metadata? headers = null) => new(Client.Govern(headers, cancellationToken: default));

    public static SubsystemMessage Register(string name = "engine", string? host = "spec-host", params string[] actions)
    {
        var register = new Register { Name = name, Host = host ?? "", Priority = 5, LatencyObjectiveMs = 250 };
        register.Actions.Add(actions.Length == 0 ? [ActionNames.ReduceBatch, ActionNames.Throttle] : actions);
        return new SubsystemMessage { Register = register };
    }

    /// <summary>Retries <paramref name="assert"/> until it passes or <see cref="Wait"/> is over (then its last failure).</summary>
    public static async Task Eventually(Func<Task> assert, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? Wait);
        while (true)
        {
            try
            {
                await assert();
                return;
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }
    }

    public async Task<V1.SubsystemStatus?> SubsystemAsync(string name) =>
        (await Client.GetFleetStatusAsync(new GetFleetStatusRequest())).Subsystems.SingleOrDefault(s => s.Name == name);

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await Server.DisposeAsync();
        await Host.DisposeAsync();
        Host.DeleteDatabase();
    }
}

/// <summary>One Govern call, read with a deadline per message.</summary>
internal sealed class GovernStream(AsyncDuplexStreamingCall<SubsystemMessage, GovernorMessage> call) : IDisposable
{
    public AsyncDuplexStreamingCall<SubsystemMessage, GovernorMessage> Call { get; } = call;

    public Task SendAsync(SubsystemMessage message) => Call.RequestStream.WriteAsync(message);

    public Task AckAsync(long sequence, bool applied = true) =>
        SendAsync(new SubsystemMessage { Ack = new V1.ThrottleAck { Sequence = sequence, Applied = applied, Detail = applied ? "applied" : "declined" } });

    /// <summary>The next governor message; fails when the stream ends first or nothing comes within the wait.</summary>
    public async Task<GovernorMessage> NextAsync(TimeSpan? within = null)
    {
        var next = Call.ResponseStream.MoveNext(CancellationToken.None);
        if (await Task.WhenAny(next, Task.Delay(within ?? GatewayNode.Wait)) != next)
            throw new TimeoutException($"no governor message within {(within ?? GatewayNode.Wait).TotalSeconds:0} s");
        Assert.True(await next, "the Govern stream ended");
        return Call.ResponseStream.Current;
    }

    /// <summary>The next Throttle, skipping nothing else: a Registered or Rejected here fails.</summary>
    public async Task<V1.Throttle> NextThrottleAsync()
    {
        var message = await NextAsync();
        Assert.Equal(GovernorMessage.KindOneofCase.Throttle, message.KindCase);
        return message.Throttle;
    }

    /// <summary>How the call ended: reads until the end and returns the status (OK when it ended without error).</summary>
    public async Task<Status> EndAsync(TimeSpan? within = null)
    {
        var read = Task.Run(async () =>
        {
            try
            {
                while (await Call.ResponseStream.MoveNext(CancellationToken.None)) { }
                return Call.GetStatus();
            }
            catch (RpcException e)
            {
                return e.Status;
            }
        });
        if (await Task.WhenAny(read, Task.Delay(within ?? GatewayNode.Wait)) != read) throw new TimeoutException("the Govern stream did not end");
        return await read;
    }

    public void Dispose() => Call.Dispose();
}
