using BenchmarkDotNet.Running;
using Scarcity.Actors.Benchmarks;

// --latency [--samples N] [--warmup N]: the end-to-end latency run on a real in-process node; anything else goes to
// BenchmarkDotNet (e.g. --filter '*' --job short).
if (args.Contains("--latency")) return await LatencyBenchmark.RunAsync(args);

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
