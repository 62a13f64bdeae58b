using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Hosting;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Scarcity.Actors.Configuration;
using Scarcity.Actors.Contracts;
using Scarcity.Actors.Gateway;
using Scarcity.Actors.Gateway.V1;
using Scarcity.Actors.Hosting;
using ContractSample = Scarcity.Actors.Contracts.Sample;

namespace Scarcity.Actors.Benchmarks;

/// <summary>
/// The gRPC gateway on a real in-process node (one-node cluster, SQLite journal) and Grpc.Net.Client streams over
/// loopback h2c (real sockets, real HTTP/2):
/// <c>--gateway-latency [--samples N] [--warmup N]</c>: a <see cref="ContractSample"/> told to the profilers until the
/// Throttle it causes is read from the Govern stream (then acked on it); samples alternate 0.95 / 0.30 on a raw
/// <c>vram_util</c> rule so each yields one Throttle. Target (issue 14): p99 &lt;= 10 ms.
/// <c>--gateway-reports [--subsystems 100] [--hosts 10] [--rate 4] [--seconds 30]</c>: that many streams, each reporting
/// two values at the rate; counts what the profilers took in (their <see cref="TelemetryPublished.ValuesProfiled"/>)
/// against what was sent. Target: nothing lost.
/// </summary>
public static class GatewayBenchmarks
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    public static async Task<int> LatencyAsync(string[] args)
    {
        var samples = IntArg(args, "--samples", 2000);
        var warmup = IntArg(args, "--warmup", 200);
        await using var node = await Node.StartAsync(LatencyBenchmark.UseOneThrottlePerSample);
        using var call = node.Client.Govern();
        var register = new Register { Name = "engine", Host = Node.HostName(0), Priority = 5 };
        register.Actions.Add(ActionNames.ReduceBatch);
        await call.RequestStream.WriteAsync(new SubsystemMessage { Register = register });
        if (!await call.ResponseStream.MoveNext(CancellationToken.None) || call.ResponseStream.Current.KindCase != GovernorMessage.KindOneofCase.Registered)
            throw new InvalidOperationException("no Registered");

        var latencies = new double[samples - warmup];
        var wrong = 0;
        for (var i = 0; i < samples; i++)
        {
            var hot = i % 2 == 0;
            var sent = Stopwatch.GetTimestamp();
            node.Profilers.Tell(new ContractSample(Node.HostName(0), T0.AddMilliseconds(250.0 * i), [new MetricValue(MetricNames.VramUtil, hot ? 0.95 : 0.30)], []));
            var next = call.ResponseStream.MoveNext(CancellationToken.None);
            if (!await next.WaitAsync(Wait)) throw new InvalidOperationException("the stream ended");
            var at = Stopwatch.GetTimestamp();
            var throttle = call.ResponseStream.Current.Throttle;
            if (throttle is null || throttle.Level != (hot ? 0.5 : 1.0) || throttle.Sequence != i + 1) wrong++;
            await call.RequestStream.WriteAsync(new SubsystemMessage { Ack = new Gateway.V1.ThrottleAck { Sequence = throttle?.Sequence ?? 0, Applied = true } });
            if (i >= warmup) latencies[i - warmup] = Stopwatch.GetElapsedTime(sent, at).TotalMilliseconds;
        }
        Array.Sort(latencies);
        Console.WriteLine();
        Console.WriteLine($"Sample -> Throttle read from a Govern stream (gRPC, loopback h2c, SQLite journal), {samples} samples, first {warmup} discarded");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"count={latencies.Length}  p50={Pct(latencies, 50):0.000} ms  p90={Pct(latencies, 90):0.000} ms  " +
            $"p99={Pct(latencies, 99):0.000} ms  max={latencies[^1]:0.000} ms  mean={latencies.Average():0.000} ms"));
        if (wrong > 0) Console.WriteLine($"WARNING: {wrong} Throttles had an unexpected level or sequence");
        Console.WriteLine(Pct(latencies, 99) <= 10.0 ? "p99 <= 10 ms: PASS" : "p99 <= 10 ms: MISS");
        return wrong == 0 ? 0 : 1;
    }

    public static async Task<int> ReportsAsync(string[] args)
    {
        var subsystems = IntArg(args, "--subsystems", 100);
        var hosts = IntArg(args, "--hosts", 10);
        var rate = IntArg(args, "--rate", 4);
        var seconds = IntArg(args, "--seconds", 30);
        await using var node = await Node.StartAsync(_ => { });
        var profiled = new ConcurrentDictionary<string, (long Profiled, long Rejected)>();
        var listener = node.System.ActorOf(Props.Create(() => new TelemetryListener(profiled)), "bench-telemetry");
        DistributedPubSub.Get(node.System).Mediator.Tell(new Subscribe(Topics.Telemetry, listener));

        var calls = new List<AsyncDuplexStreamingCall<SubsystemMessage, GovernorMessage>>();
        for (var s = 0; s < subsystems; s++)
        {
            var call = node.Client.Govern();
            var register = new Register { Name = $"engine-{s:000}", Host = Node.HostName(s % hosts), Priority = 1 };
            register.Actions.Add(ActionNames.Throttle);
            await call.RequestStream.WriteAsync(new SubsystemMessage { Register = register });
            calls.Add(call);
        }
        foreach (var call in calls)
            if (!await call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Wait) || call.ResponseStream.Current.KindCase != GovernorMessage.KindOneofCase.Registered)
                throw new InvalidOperationException("a stream was not registered");
        Console.WriteLine($"{subsystems} streams registered on {hosts} hosts; reporting 2 values at {rate} Hz for {seconds} s");

        var period = TimeSpan.FromSeconds(1.0 / rate);
        var clock = Stopwatch.StartNew();
        var sent = new long[subsystems];
        var loops = calls.Select((call, s) => Task.Run(async () =>
        {
            // Each stream starts at its own phase, as independent processes would.
            await Task.Delay(TimeSpan.FromTicks(period.Ticks * s / subsystems));
            using var timer = new PeriodicTimer(period);
            var k = 0;
            while (clock.Elapsed < TimeSpan.FromSeconds(seconds))
            {
                var report = new MetricReport { At = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) };
                report.Values["latency_ms"] = 40 + k % 10;
                report.Values["queue_depth"] = k % 5;
                await call.RequestStream.WriteAsync(new SubsystemMessage { Report = report });
                sent[s] += 2;
                k++;
                await timer.WaitForNextTickAsync();
            }
        })).ToList();
        await Task.WhenAll(loops);
        var elapsed = clock.Elapsed;
        var expected = sent.Sum();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (profiled.Values.Sum(v => v.Profiled) < expected && DateTime.UtcNow < deadline) await Task.Delay(250);
        var got = profiled.Values.Sum(v => v.Profiled);
        var rejected = profiled.Values.Sum(v => v.Rejected);
        var dropped = new GatewayMetrics(Metrics.GovernorMetrics.Get(node.System).Registry).ReportsDropped.WithLabels("rate").Value + new GatewayMetrics(Metrics.GovernorMetrics.Get(node.System).Registry).ReportsDropped.WithLabels("unregistered").Value;
        foreach (var call in calls) call.Dispose();

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sent={expected} values ({expected / 2} reports, {expected / 2 / elapsed.TotalSeconds:0} reports/s over {elapsed.TotalSeconds:0.0} s)  " +
            $"profiled={got}  rejected={rejected}  dropped by the rate bound={dropped}  lost={expected - got}"));
        var pass = got == expected && rejected == 0 && dropped == 0;
        Console.WriteLine(pass ? "nothing lost: PASS" : "nothing lost: MISS");
        return pass ? 0 : 1;
    }

    private sealed class TelemetryListener : ReceiveActor
    {
        public TelemetryListener(ConcurrentDictionary<string, (long, long)> profiled)
        {
            Receive<SubscribeAck>(_ => { });
            Receive<TelemetryPublished>(t => profiled[t.Profile.Host] = (t.ValuesProfiled, t.RejectedValues));
        }
    }

    /// <summary>The in-process node and its gateway.</summary>
    private sealed class Node : IAsyncDisposable
    {
        private readonly IHost _host;
        private readonly GatewayServer _gateway;
        private readonly GrpcChannel _channel;
        private readonly string _db;

        private Node(IHost host, GatewayServer gateway, GrpcChannel channel, string db, IActorRef profilers)
        {
            _host = host;
            _gateway = gateway;
            _channel = channel;
            _db = db;
            Profilers = profilers;
            Client = new Governor.GovernorClient(channel);
        }

        public ActorSystem System => _host.Services.GetRequiredService<ActorSystem>();
        public IActorRef Profilers { get; }
        public Governor.GovernorClient Client { get; }

        public static string HostName(int i) => $"bench-host-{i}";

        public static async Task<Node> StartAsync(Action<DRGConfig> configure)
        {
            Console.WriteLine($"Machine: {Environment.ProcessorCount} logical CPUs, {RuntimeInformation.OSDescription} {RuntimeInformation.OSArchitecture}, {RuntimeInformation.FrameworkDescription}");
            var db = Path.Combine(Path.GetTempPath(), $"scarcity-gateway-bench-{Guid.NewGuid():N}.db");
            var config = new DRGConfig
            {
                Host = HostName(0),
                Persistence = { Provider = "Sqlite", ConnectionString = $"Data Source={db}" },
                Cluster = { Port = 0, Roles = ["governor"] },
                Gateway = { Port = FreePort(), MaxReportsPerSecond = 20 },
            };
            configure(config);
            var builder = Host.CreateApplicationBuilder();
            builder.Configuration["Logging:LogLevel:Default"] = "Warning";
            builder.Services.AddAkka(GovernorHostingExtensions.SystemName, (akka, _) =>
            {
                akka.AddHocon("akka.loglevel = WARNING\nakka.cluster.split-brain-resolver.stable-after = 3s", HoconAddMode.Prepend);
                akka.WithScarcityNode(config);
            });
            var host = builder.Build();
            await host.StartAsync();
            var system = host.Services.GetRequiredService<ActorSystem>();
            var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Akka.Cluster.Cluster.Get(system).RegisterOnMemberUp(() => up.TrySetResult());
            await up.Task.WaitAsync(Wait);
            var registry = host.Services.GetRequiredService<ActorRegistry>();
            var gateway = await GatewayServer.StartAsync(system, registry, config.Gateway);
            return new Node(host, gateway, GrpcChannel.ForAddress(gateway.Address), db, await registry.GetAsync<GovernorActors.Profilers>());
        }

        public async ValueTask DisposeAsync()
        {
            _channel.Dispose();
            await _gateway.DisposeAsync();
            await _host.StopAsync();
            _host.Dispose();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var f in new[] { _db, _db + "-wal", _db + "-shm" })
                if (File.Exists(f)) File.Delete(f);
        }

        private static int FreePort()
        {
            var listener = new global::System.Net.Sockets.TcpListener(global::System.Net.IPAddress.Loopback, 0);
            listener.Start();
            var port = ((global::System.Net.IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            return port;
        }
    }

    private static double Pct(double[] sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static int IntArg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
