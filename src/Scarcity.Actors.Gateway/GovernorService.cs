using System.Collections.Immutable;
using System.Threading.Channels;
using System.Threading.RateLimiting;
using Akka.Actor;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Status = Grpc.Core.Status;
using Microsoft.Extensions.Logging;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Gateway.V1;
using ContractAck = Scarcity.Actors.Contracts.ThrottleAck;
using ContractDecision = Scarcity.Actors.Contracts.Decision;
using ContractGetDecisions = Scarcity.Actors.Contracts.GetDecisions;
using ContractGetFleetStatus = Scarcity.Actors.Contracts.GetFleetStatus;
using ContractSubsystemStatus = Scarcity.Actors.Contracts.SubsystemStatus;

namespace Scarcity.Actors.Gateway;

/// <summary>
/// The <c>scarcity.v1.Governor</c> service. A Govern call reads the client's Register, starts a
/// <see cref="GovernStreamActor"/> for it and then runs two loops until either ends: the client's acks and reports in
/// (acks and reports to the actor, which relays them, reports bounded per stream), and the actor's queue
/// out. The call ending stops the actor (the actuator's DeathWatch sees the subsystem go); a malformed message ends the
/// call with <c>INVALID_ARGUMENT</c> naming the field. Unary calls ask this node's operations actor.
/// </summary>
internal sealed class GovernorService(GatewayContext gateway, ILogger<GovernorService> logger) : Governor.GovernorBase
{
    private static long _streams;

    /// <inheritdoc />
    public override async Task Govern(IAsyncStreamReader<SubsystemMessage> requests, IServerStreamWriter<GovernorMessage> responses, ServerCallContext context)
    {
        var metrics = gateway.Metrics;
        metrics.StreamsOpen.Inc();
        gateway.StreamStarted();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, gateway.Stopping);
        using var overflow = new CancellationTokenSource();
        using var pumping = CancellationTokenSource.CreateLinkedTokenSource(stop.Token, overflow.Token);
        IActorRef? actor = null;
        var how = "closed";
        try
        {
            if (!await requests.MoveNext(stop.Token)) return; // closed before saying anything
            var first = requests.Current;
            if (first.KindCase != SubsystemMessage.KindOneofCase.Register)
                throw Invalid("first", $"register: the first message of a Govern stream must be register, was {KindName(first)}");
            metrics.MessagesReceived.WithLabels("register").Inc();
            var register = first.Register;
            if (GatewayValidation.Check(register) is { } error) throw Invalid("register", error);

            var queue = Channel.CreateBounded<GovernorMessage>(new BoundedChannelOptions(gateway.Config.StreamQueueCapacity)
            {
                SingleReader = true,
                SingleWriter = true,
                FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full; the actor never waits
            });
            var registration = new RegisterSubsystem(register.Name, register.Host, register.Priority,
                [.. register.Actions.Order(StringComparer.Ordinal)], ActorRefs.Nobody,
                register.LatencyObjectiveMs > 0 ? register.LatencyObjectiveMs : null,
                register.Reports.Count > 0 ? [.. register.Reports] : null);
            actor = gateway.System.ActorOf(
                GovernStreamActor.Props(registration, gateway.Registration, gateway.Profilers, queue.Writer, metrics, gateway.Config.RegisterInterval, overflow),
                $"gateway-{register.Name}-{Interlocked.Increment(ref _streams)}");
            logger.LogInformation("Gateway: Govern stream of subsystem {Subsystem} (host {Host}) opened from {Peer}", register.Name, register.Host, context.Peer);

            var pump = Pump(queue.Reader, responses, pumping.Token);
            var read = Read(requests, register, actor, stop.Token);
            var ended = await Task.WhenAny(pump, read);
            // Whichever ends first ends the call; the other is cancelled and its outcome observed.
            await stop.CancelAsync();
            try { await (ended == pump ? read : pump); }
            catch (Exception) { /* cancelled by the one that ended */ }
            await ended; // rethrows its RpcException (invalid message, queue overflow, node stopping)
            if (ended == pump) how = "rejected";
        }
        catch (RpcException e)
        {
            how = e.StatusCode switch
            {
                StatusCode.InvalidArgument => "invalid",
                StatusCode.ResourceExhausted => "overflow",
                StatusCode.Unavailable => "stopping",
                _ => "error",
            };
            throw;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            if (overflow.IsCancellationRequested)
            {
                how = "overflow";
                throw new RpcException(new Status(StatusCode.ResourceExhausted,
                    $"the client did not read its stream: {gateway.Config.StreamQueueCapacity} governor messages queued (Scarcity:Gateway:StreamQueueCapacity); reconnect"));
            }
            if (gateway.Stopping.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
            {
                how = "stopping";
                throw new RpcException(new Status(StatusCode.Unavailable, "the governor node is stopping; reconnect to another node or later"));
            }
            how = "cancelled"; // the client went away
        }
        finally
        {
            if (actor is not null)
            {
                gateway.System.Stop(actor);
                logger.LogInformation("Gateway: Govern stream of {Actor} ended ({How})", actor.Path.Name, how);
            }
            metrics.StreamsEnded.WithLabels(how).Inc();
            metrics.StreamsOpen.Dec();
            gateway.StreamEnded();
        }
    }

    private async Task Read(IAsyncStreamReader<SubsystemMessage> requests, Register register, IActorRef actor, CancellationToken cancel)
    {
        var metrics = gateway.Metrics;
        using var reports = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = gateway.Config.MaxReportsPerSecond,
            TokensPerPeriod = gateway.Config.MaxReportsPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
        while (await requests.MoveNext(cancel))
        {
            var message = requests.Current;
            switch (message.KindCase)
            {
                case SubsystemMessage.KindOneofCase.Ack:
                    metrics.MessagesReceived.WithLabels("ack").Inc();
                    if (GatewayValidation.Check(message.Ack) is { } ackError) throw Invalid("ack", ackError);
                    actor.Tell(new ContractAck(register.Name, message.Ack.Sequence, message.Ack.Applied, message.Ack.Detail));
                    break;
                case SubsystemMessage.KindOneofCase.Report:
                    metrics.MessagesReceived.WithLabels("report").Inc();
                    if (GatewayValidation.Check(message.Report) is { } reportError) throw Invalid("report", reportError);
                    using (var lease = reports.AttemptAcquire())
                    {
                        if (!lease.IsAcquired)
                        {
                            metrics.ReportsDropped.WithLabels("rate").Inc();
                            break;
                        }
                    }
                    var at = message.Report.At is { } stamp ? stamp.ToDateTimeOffset() : DateTimeOffset.UtcNow;
                    // Through the actor: it forwards to the profilers only while registered (before, the profiler would reject them).
                    actor.Tell(new ReportMetrics(register.Name, register.Host, message.Report.Values.ToImmutableDictionary(StringComparer.Ordinal), at, actor));
                    break;
                case SubsystemMessage.KindOneofCase.Register:
                    metrics.MessagesReceived.WithLabels("register").Inc();
                    throw Invalid("register", "register: a Govern stream registers once, in its first message; open a new stream to register again");
                default:
                    throw Invalid("kind", "kind: the message carries none of register, ack and report (a newer client's message?)");
            }
        }
    }

    private static async Task Pump(ChannelReader<GovernorMessage> queue, IServerStreamWriter<GovernorMessage> responses, CancellationToken cancel)
    {
        // Ends when the actor completes the queue: after Rejected (normally) or with its error.
        await foreach (var message in queue.ReadAllAsync(cancel))
            await responses.WriteAsync(message, cancel);
    }

    /// <inheritdoc />
    public override async Task<FleetStatus> GetFleetStatus(GetFleetStatusRequest request, ServerCallContext context)
    {
        var answer = await Ask(ContractGetFleetStatus.Instance, context);
        if (answer is not GovernorStatus status) throw Unexpected(answer);
        var fleet = new FleetStatus();
        foreach (var profile in status.Hosts.Values.OrderBy(h => h.Host, StringComparer.Ordinal))
        {
            var host = new HostStatus { Host = profile.Host, Pressure = profile.Pressure.ToString().ToUpperInvariant(), At = Timestamp.FromDateTimeOffset(profile.At) };
            foreach (var (name, estimate) in profile.Metrics.OrderBy(m => m.Key, StringComparer.Ordinal))
            {
                host.Metrics[name] = estimate.Raw;
                if (estimate.Stale) host.Stale.Add(name);
            }
            fleet.Hosts.Add(host);
        }
        foreach (var subsystem in status.Subsystems.Values.OrderBy(s => s.Name, StringComparer.Ordinal))
            fleet.Subsystems.Add(ToProto(subsystem));
        return fleet;
    }

    /// <inheritdoc />
    public override async Task<GetDecisionsResponse> GetDecisions(GetDecisionsRequest request, ServerCallContext context)
    {
        if (GatewayValidation.Check(request) is { } error) throw Invalid("request", error);
        var limit = request.Limit == 0 ? 20 : request.Limit;
        var answer = await Ask(new ContractGetDecisions(null, request.Subsystem.Length == 0 ? null : request.Subsystem, limit), context);
        if (answer is not DecisionPage page) throw Unexpected(answer);
        if (page.Errors.Length > 0)
            logger.LogWarning("Gateway: decisions read without {Members}", string.Join("; ", page.Errors));
        var response = new GetDecisionsResponse();
        foreach (var journaled in page.Decisions) response.Decisions.Add(ToProto(journaled.Decision));
        return response;
    }

    private async Task<object> Ask(object query, ServerCallContext context)
    {
        try
        {
            return await gateway.Operations.Ask<object>(query, gateway.Config.RequestTimeout, context.CancellationToken);
        }
        catch (AskTimeoutException)
        {
            throw new RpcException(new Status(StatusCode.DeadlineExceeded,
                $"the governor cluster did not answer within {gateway.Config.RequestTimeout.TotalSeconds:0.#} s (Scarcity:Gateway:RequestTimeout)"));
        }
    }

    private static RpcException Unexpected(object answer) => answer is OperationFailed failed
        ? new RpcException(new Status(StatusCode.Unavailable, $"{failed.Operation}: {failed.Reason}"))
        : new RpcException(new Status(StatusCode.Internal, $"unexpected answer {answer.GetType().Name}"));

    private RpcException Invalid(string kind, string detail)
    {
        gateway.Metrics.InvalidMessages.WithLabels(kind).Inc();
        return new RpcException(new Status(StatusCode.InvalidArgument, detail));
    }

    private static string KindName(SubsystemMessage message) => message.KindCase switch
    {
        SubsystemMessage.KindOneofCase.Ack => "ack",
        SubsystemMessage.KindOneofCase.Report => "report",
        _ => "a message without kind",
    };

    private static V1.SubsystemStatus ToProto(ContractSubsystemStatus s)
    {
        var status = new V1.SubsystemStatus
        {
            Name = s.Name, Host = s.Host, Priority = s.Priority, LastSequence = s.LastSequence,
            LastAckedSequence = s.LastAckedSequence, Reachable = s.Reachable,
        };
        status.Levels.Add(s.Levels);
        return status;
    }

    private static V1.Decision ToProto(ContractDecision d) => new()
    {
        Subsystem = d.Subsystem, Host = d.Host, Action = d.Action, PreviousLevel = d.PreviousLevel, Level = d.Level,
        Sequence = d.Sequence, Reason = d.Reason.ToString(), At = Timestamp.FromDateTimeOffset(d.At), Sent = d.Sent, Detail = d.Detail,
    };
}
