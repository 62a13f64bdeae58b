#!/usr/bin/env bash
# Runs every test of the solution and ends with one line: "N passed, N failed".
# Needs the .NET SDK 10 and gcc (the fake NVML library is compiled by the test build).
set -uo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT

if ! command -v gcc >/dev/null 2>&1; then
  echo "gcc not found: installing it (the GPU specs compile a fake NVML library)" >&2
  (apt-get update -qq && apt-get install -y -qq gcc) >/dev/null 2>&1 || echo "could not install gcc" >&2
fi

dotnet build Scarcity.Actors.sln -c Release -nologo -v q 2>&1 | tee "$log" | grep -E "error|Warn|Elapsed" | grep -v NU1603
build=${PIPESTATUS[0]}
if [ "$build" -ne 0 ]; then
  echo "build failed" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

dotnet test Scarcity.Actors.sln -c Release --no-build -nologo 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

passed=0; failed=0
while read -r line; do
  f=$(sed -nE 's/.*Failed: *([0-9]+).*/\1/p' <<<"$line")
  p=$(sed -nE 's/.*Passed: *([0-9]+).*/\1/p' <<<"$line")
  failed=$((failed + ${f:-0})); passed=$((passed + ${p:-0}))
done < <(grep -E "^(Passed|Failed)! +- " "$log")

if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "the test run failed before reporting results (exit $status)" >&2
  failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
