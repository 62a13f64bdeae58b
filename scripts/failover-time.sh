#!/usr/bin/env bash
# Measures failover: kill -9 of the node holding a subsystem's actuator, to the next Throttle from a survivor, with the
# failure detection and downing timing of the shipped cluster-config/three-node (StableAfter, DownRemovalMargin).
# Runs tests/Scarcity.Actors.ClusterTests' FreshFailoverSpecs (three real Host processes on PostgreSQL) RUNS times and
# prints each time and the median; the spec itself asserts the behaviour (no burst, fresh data), not the time.
#
#   scripts/failover-time.sh [RUNS]      (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "failover-time.sh: RUNS must be a positive number, was '$RUNS'" >&2; exit 2; }
dotnet build tests/Scarcity.Actors.ClusterTests -c Release -nologo -v q >/dev/null
times=()
for ((i = 1; i <= RUNS; i++)); do
  out=$(dotnet test tests/Scarcity.Actors.ClusterTests -c Release --no-build -nologo \
    --filter "FullyQualifiedName~FreshFailoverSpecs" --logger "console;verbosity=detailed" 2>&1) || {
    echo "$out" | grep -vE '^\s*\[(INFO|DEBUG)\]' | tail -n 40 >&2; echo "failover-time.sh: run $i failed" >&2; exit 1; }
  line=$(echo "$out" | grep -oE "failover: next Throttle from a survivor [0-9.]+ s after the kill.*" | head -n 1)
  killed=$(echo "$out" | grep -oE "node[0-9] \(actuator of [^)]*\) killed" | head -n 1)
  echo "run $i: $killed; ${line#failover: }"
  times+=("$(echo "$line" | grep -oE '[0-9.]+ s after' | grep -oE '[0-9.]+')")
done
printf '%s\n' "${times[@]}" | sort -n | awk '{ t[NR] = $1 } END { printf "kill -9 to next Throttle: min %.1f s, median %.1f s, max %.1f s over %d runs\n", t[1], t[int((NR + 1) / 2)], t[NR], NR }'
