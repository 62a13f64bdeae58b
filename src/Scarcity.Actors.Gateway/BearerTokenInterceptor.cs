using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;

namespace Scarcity.Actors.Gateway;

/// <summary>
/// Requires <c>authorization: Bearer &lt;token&gt;</c> on every call when a token is configured: a call without it or
/// with another token ends with <c>UNAUTHENTICATED</c> before any handler runs, is counted
/// (<c>scarcity_gateway_unauthenticated_total</c>) and logged at most once per <c>UnauthenticatedLogInterval</c> (a
/// client retrying with a bad token must not flood the log). Tokens are compared in constant time.
/// </summary>
internal sealed class BearerTokenInterceptor : Interceptor
{
    private readonly byte[]? _token;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeSpan _logInterval;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private long _lastLogTicks = long.MinValue;
    private long _suppressed;

    public BearerTokenInterceptor(GatewayTokens tokens, GatewayContext gateway, ILogger<BearerTokenInterceptor> logger, TimeProvider time)
    {
        _token = tokens.Token is null ? null : Encoding.UTF8.GetBytes(tokens.Token);
        _metrics = gateway.Metrics;
        _logger = logger;
        _logInterval = gateway.Config.UnauthenticatedLogInterval;
        _time = time;
    }

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(request, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context,
        ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(requestStream, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(request, responseStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(requestStream, responseStream, context);
    }

    private void Authenticate(ServerCallContext context)
    {
        if (_token is null) return;
        var header = context.RequestHeaders.GetValue("authorization");
        string? problem;
        if (header is null) problem = "no authorization metadata";
        else if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) problem = "authorization is not a Bearer token";
        else problem = CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim()), _token) ? null : "wrong bearer token";
        if (problem is null) return;
        _metrics.Unauthenticated.Inc();
        Log(problem, context);
        throw new RpcException(new Status(StatusCode.Unauthenticated, $"{problem}: this gateway requires 'authorization: Bearer <token>' metadata"));
    }

    private void Log(string problem, ServerCallContext context)
    {
        long suppressed;
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            if (_lastLogTicks != long.MinValue && _time.GetElapsedTime(_lastLogTicks, now) < _logInterval)
            {
                _suppressed++;
                return;
            }
            _lastLogTicks = now;
            suppressed = _suppressed;
            _suppressed = 0;
        }
        _logger.LogWarning("Gateway: refused {Method} from {Peer}: {Problem} (UNAUTHENTICATED; {Suppressed} more refused since the last such line, all counted in scarcity_gateway_unauthenticated_total)",
            context.Method, context.Peer, problem, suppressed);
    }
}

/// <summary>The bearer token calls must carry, read once at start-up; null when none is required.</summary>
/// <param name="Token">The token.</param>
internal sealed record GatewayTokens(string? Token);
