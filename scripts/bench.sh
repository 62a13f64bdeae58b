#!/usr/bin/env bash
# Builds the benchmarks in Release, runs every BenchmarkDotNet benchmark (short job) and then the end-to-end latency
# run on an in-process governor node. Extra arguments go to the latency run (e.g. --samples 5000 --journal memory).
# BENCH_FILTER overrides the BenchmarkDotNet filter (default '*'); BENCH_JOB the job (default short).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
project=tests/Scarcity.Actors.Benchmarks
artifacts="$root/BenchmarkDotNet.Artifacts"
mkdir -p "$artifacts"
latency_log="$artifacts/latency-$(date -u +%Y%m%dT%H%M%SZ).txt"

dotnet build -c Release "$project"
dll="$project/bin/Release/net10.0/Scarcity.Actors.Benchmarks.dll"

dotnet "$dll" --filter "${BENCH_FILTER:-*}" --job "${BENCH_JOB:-short}" --artifacts "$artifacts"

dotnet "$dll" --latency "$@" 2>&1 | tee "$latency_log"

echo
echo "BenchmarkDotNet reports: $artifacts/results (*-report-github.md, *.csv, *.html)"
echo "Latency run:             $latency_log"
