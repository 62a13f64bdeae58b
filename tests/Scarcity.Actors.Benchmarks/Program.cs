using BenchmarkDotNet.Running;
using Scarcity.Actors.Benchmarks;

// --latency [--samples N] [--warmup N]: the end-to-end latency run on a real in-process node; anything else goes to
// BenchmarkDotNet (e.g. --filter '*' --job short).
if (args.Contains("--latency")) return await LatencyBenchmark.RunAsync(args);
// --remote-latency [--samples N] [--warmup N]: Sample -> Throttle applied in a subsystem process (the sample engine).
if (args.Contains("--remote-latency")) return await RemoteBenchmarks.RemoteLatencyAsync(args);
// --report-throughput [--subsystems 100] [--hosts 100] [--values 10] [--rate 60000] [--seconds 10]: ReportMetrics ingest.
if (args.Contains("--report-throughput")) return await RemoteBenchmarks.ReportThroughputAsync(args);
// --python-gateway-latency / --python-gateway-reports: Python subsystems through the gRPC gateway (scripts/bench-gateway.sh).
if (args.Contains("--python-gateway-latency")) return await RemoteBenchmarks.GatewayLatencyAsync(args);
if (args.Contains("--python-gateway-reports")) return await RemoteBenchmarks.GatewayReportsAsync(args);

// --gateway-latency [--samples N] [--warmup N]: Sample -> Throttle read from a gRPC Govern stream (docs/gateway.md).
if (args.Contains("--gateway-latency")) return await GatewayBenchmarks.LatencyAsync(args);
// --gateway-reports [--subsystems 100] [--hosts 10] [--rate 4] [--seconds 30]: reports through the gateway, none lost.
if (args.Contains("--gateway-reports")) return await GatewayBenchmarks.ReportsAsync(args);

// --recording [--hosts 500] [--seconds 60]: the telemetry recording's writer, reader and replay on real files.
if (args.Contains("--recording")) return RecordingBenchmark.Run(args);

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
