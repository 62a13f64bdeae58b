using Prometheus;

namespace Scarcity.Actors.Gateway;

/// <summary>
/// The gateway's Prometheus instruments, in the node's registry (<c>GovernorMetrics.Registry</c>, served on
/// <c>/metrics</c>). Labels are message kinds and fixed reasons, never a subsystem name a client chose freely
/// beyond its registration, a sequence or a token.
/// </summary>
public sealed class GatewayMetrics
{
    /// <summary>Govern streams open now.</summary>
    public Gauge StreamsOpen { get; }

    /// <summary>Messages received from clients, by kind (register, ack, report).</summary>
    public Counter MessagesReceived { get; }

    /// <summary>Messages sent to clients, by kind (registered, rejected, throttle).</summary>
    public Counter MessagesSent { get; }

    /// <summary>Calls refused for a missing or wrong bearer token.</summary>
    public Counter Unauthenticated { get; }

    /// <summary>Calls ended with INVALID_ARGUMENT, by the kind of message at fault (register, ack, report, first, kind, request).</summary>
    public Counter InvalidMessages { get; }

    /// <summary>Metric reports dropped, never profiled, by reason: <c>rate</c> (the stream exceeded <c>MaxReportsPerSecond</c>) or <c>unregistered</c> (sent before <c>Registered</c>, or during a failover).</summary>
    public Counter ReportsDropped { get; }

    /// <summary>Govern streams ended, by how (closed, cancelled, rejected, invalid, overflow, stopping).</summary>
    public Counter StreamsEnded { get; }

    /// <summary>Creates (or finds) the instruments in <paramref name="registry"/>.</summary>
    public GatewayMetrics(CollectorRegistry registry)
    {
        var f = Prometheus.Metrics.WithCustomRegistry(registry);
        StreamsOpen = f.CreateGauge("scarcity_gateway_streams_open", "Govern streams (gRPC subsystems) open on this node.");
        MessagesReceived = f.CreateCounter("scarcity_gateway_messages_received_total", "Messages received on Govern streams, by kind (register, ack, report).", ["kind"]);
        MessagesSent = f.CreateCounter("scarcity_gateway_messages_sent_total", "Messages sent on Govern streams, by kind (registered, rejected, throttle).", ["kind"]);
        Unauthenticated = f.CreateCounter("scarcity_gateway_unauthenticated_total", "Gateway calls refused with UNAUTHENTICATED (missing or wrong bearer token).");
        InvalidMessages = f.CreateCounter("scarcity_gateway_invalid_messages_total", "Gateway calls ended with INVALID_ARGUMENT, by the kind of message at fault.", ["kind"]);
        ReportsDropped = f.CreateCounter("scarcity_gateway_reports_dropped_total", "Metric reports dropped, never profiled: reason=rate (beyond MaxReportsPerSecond) or unregistered (before Registered).", ["reason"]);
        StreamsEnded = f.CreateCounter("scarcity_gateway_streams_ended_total", "Govern streams ended, by how (closed, cancelled, rejected, invalid, overflow, stopping).", ["how"]);
    }
}
