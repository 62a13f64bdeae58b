#!/usr/bin/env bash
# Fleet benchmark on a local three-node governor cluster (issue 3 item 8).
#
#   scripts/bench-cluster.sh [HOSTS...]      default: 50 500
#
# For each fleet size N: a fresh PostgreSQL database (scripts/postgres.sh createdb), three governor processes on
# loopback (tools/Scarcity.Actors.FleetBench: a governor node composed as the Host composes one, plus the simulated fleet;
# generated node1..3 JSON: roles governor + sensor, seeds node1 + node2, GPU off), each sampling N/3 simulated hosts
# (--hosts, the remainder goes to the first nodes) at 4 Hz, node1 also running the collector (--collect BENCH_SECONDS
# after a --warmup of BENCH_WARMUP). Waits for node1's BENCH line, samples every node's CPU
# (utime+stime from /proc/PID/stat, % of one core) and RSS (VmRSS) once a second, keeps the samples that fall inside
# the collector's measurement window, stops the nodes and prints one table row per fleet size.
#
# The benchmark node is built once (Release). Logs, generated configs and the /proc samples go to logs/bench-cluster/N/;
# the table also to logs/bench-cluster/results.md. Environment:
#   BENCH_SECONDS (60)            the collector's measurement window
#   BENCH_WARMUP (100)            seconds before the window opens (start-up on 2 cores: JIT, cluster, sharding, entity recovery)
#   BENCH_TIMEOUT_S (300)         how long to wait for the BENCH line
#   BENCH_BASE_PORT (4153)        node1's Akka port (node2, node3: +1, +2); not the 4053.. of cluster.sh
#   SCARCITY_PG_PORT (55452)      the PostgreSQL of this benchmark (see postgres.sh); started when not running
#   BENCH_DB_PREFIX (bench_cluster) the databases are PREFIX_N (dropped and created again): a unique prefix on a shared server
#   BENCH_OUT (logs/bench-cluster) where the logs and results go
#   SCARCITY_NO_BUILD=1           use tools/Scarcity.Actors.FleetBench as built
#   SCARCITY_CONFIGURATION        (Release)
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(50 500)
SECONDS_WINDOW=${BENCH_SECONDS:-60}
TIMEOUT_S=${BENCH_TIMEOUT_S:-300}
BASE_PORT=${BENCH_BASE_PORT:-4153}
export SCARCITY_PG_PORT=${SCARCITY_PG_PORT:-55452}
CONFIGURATION=${SCARCITY_CONFIGURATION:-Release}
NODE_DLL=tools/Scarcity.Actors.FleetBench/bin/$CONFIGURATION/net10.0/Scarcity.Actors.FleetBench.dll
OUT=${BENCH_OUT:-logs/bench-cluster}
NODES=3
TICK=$(getconf CLK_TCK)

die() { echo "bench-cluster.sh: $*" >&2; exit 1; }
for n in "${SIZES[@]}"; do [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge $NODES ] || die "fleet size '$n' must be a number >= $NODES"; done

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
now_ms() { date +%s%3N; }

PIDS=()
stop_nodes() {
  local i pid deadline
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do alive "${PIDS[$i]}" && kill -TERM "${PIDS[$i]}" 2>/dev/null || true; done
  deadline=$((SECONDS + 30))
  for pid in "${PIDS[@]}"; do
    while alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; echo "  pid $pid did not stop in 30 s, killed" >&2; fi
  done
  PIDS=()
}
trap 'stop_nodes' EXIT
trap 'exit 130' INT TERM

mkdir -p "$OUT"
scripts/postgres.sh start >/dev/null || die "PostgreSQL did not start"
if [ "${SCARCITY_NO_BUILD:-0}" != 1 ]; then
  echo "building the benchmark node ($CONFIGURATION)"
  dotnet build tools/Scarcity.Actors.FleetBench -c "$CONFIGURATION" -nologo -v q >"$OUT/build.log" 2>&1 \
    || { grep -E "error" "$OUT/build.log" | head -n 20 >&2; die "build failed (see $OUT/build.log)"; }
fi
[ -f "$NODE_DLL" ] || die "$NODE_DLL not found"

node_json() { # INDEX PORT URL
  cat <<JSON
{
  "Scarcity": {
    "Host": "gpu-node-$1",
    "Sensor": { "Interval": "00:00:00.250" },
    "Gpu": { "Enabled": false },
    "Persistence": { "Provider": "PostgreSQL", "ConnectionString": "$3" },
    "Cluster": {
      "Hostname": "127.0.0.1",
      "Port": $2,
      "SeedNodes": [ "akka.tcp://scarcity@127.0.0.1:$BASE_PORT", "akka.tcp://scarcity@127.0.0.1:$((BASE_PORT + 1))" ],
      "Roles": [ "governor", "sensor" ]
    }
  }
}
JSON
}

# One line per second per node: epoch_ms node utime+stime(ticks) VmRSS(kB); and the machine: epoch_ms cpu busy total.
sample_proc() { # DIR
  local t i pid stat rss
  t=$(now_ms)
  for i in "${!PIDS[@]}"; do
    pid=${PIDS[$i]}
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    stat=${stat##*) }     # fields from 3 (state) on; utime is field 14, stime 15
    read -r -a f <<<"$stat"
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
    echo "$t node$((i + 1)) $((f[11] + f[12])) $rss" >>"$1/proc.txt"
  done
  awk -v t="$t" '/^cpu / { busy = $2 + $3 + $4 + $7 + $8 + $9; print t, "machine", busy, busy + $5 + $6 }' /proc/stat >>"$1/proc.txt"
}

ROWS=()
run_size() { # N
  local n=$1 dir="$OUT/$1" url i hosts port begin bench_line t_bench deadline
  rm -rf "$dir"; mkdir -p "$dir"
  for ((i = 0; i < NODES; i++)); do
    port=$((BASE_PORT + i))
    port_open "$port" && die "port $port is in use (BENCH_BASE_PORT)"
  done
  local db="${BENCH_DB_PREFIX:-bench_cluster}_$n"
  url=$(scripts/postgres.sh createdb "$db") || die "createdb failed"
  echo "== $n hosts: database $db, logs in $dir"
  PIDS=()
  for ((i = 0; i < NODES; i++)); do
    hosts=$((n / NODES + (i < n % NODES ? 1 : 0)))
    port=$((BASE_PORT + i))
    node_json $((i + 1)) "$port" "$url" >"$dir/node$((i + 1)).json"
    local extra=()
    [ $i -eq 0 ] && extra=(--collect "$SECONDS_WINDOW" --warmup "${BENCH_WARMUP:-100}")
    Scarcity__Persistence__ConnectionString="$url" Scarcity__Gpu__Enabled=false \
      setsid dotnet "$NODE_DLL" --config "$dir/node$((i + 1)).json" --hosts "$hosts" --start-after-members $NODES "${extra[@]}" \
      >"$dir/node$((i + 1)).log" 2>&1 </dev/null &
    PIDS+=($!)
    echo "  node$((i + 1)): pid $!, port $port, $hosts simulated hosts${extra:+, collector ${SECONDS_WINDOW} s}"
  done
  begin=$(now_ms)
  deadline=$((SECONDS + TIMEOUT_S))
  bench_line=""
  while [ -z "$bench_line" ]; do
    sample_proc "$dir"
    for i in "${!PIDS[@]}"; do
      alive "${PIDS[$i]}" || { tail -n 20 "$dir/node$((i + 1)).log" >&2; echo "  node$((i + 1)) exited" >&2; stop_nodes; ROWS+=("| $n | node$((i + 1)) exited (see $dir) |"); return; }
    done
    bench_line=$(grep -m1 '^BENCH ' "$dir/node1.log" || true)
    if [ -z "$bench_line" ] && [ $SECONDS -ge $deadline ]; then
      echo "  no BENCH line after ${TIMEOUT_S} s" >&2; stop_nodes; ROWS+=("| $n | no BENCH line in ${TIMEOUT_S} s (see $dir) |"); return
    fi
    [ -n "$bench_line" ] || sleep 1
  done
  t_bench=$(now_ms)
  sample_proc "$dir"
  echo "  $bench_line"
  local lines=() f
  for f in "$dir"/node*.log; do lines+=("$(wc -l <"$f")"); done
  stop_nodes

  local kv; kv=$(echo "$bench_line" | tr ' ' '\n' | grep '=')
  get() { echo "$kv" | awk -F= -v k="$1" '$1 == k { print $2 }'; }
  local seen samples due missing missing_max decisions ok
  seen=$(get hosts); samples=$(get samples); due=$(get samples_due); missing=$(get hosts_missing); missing_max=$(get missing_max)
  decisions=$(get decisions)
  # Every node also samples its own machine (hosts gpu-node-1..3): the collector must see N + 3 hosts, none missing a sample.
  ok=$( [ "$seen" -eq $((n + NODES)) ] && [ "$missing" -eq 0 ] && echo yes || echo NO)

  # The collector's window ends when BENCH is printed; keep the /proc samples from window start + 2 s to the end.
  local from=$((t_bench - SECONDS_WINDOW * 1000 + 2000)) cpu_rss machine
  cpu_rss=$(awk -v from="$from" -v tick="$TICK" '
    $2 ~ /^node/ && $1 >= from {
      if (!($2 in t0)) { t0[$2] = $1; c0[$2] = $3 }
      t1[$2] = $1; c1[$2] = $3; if ($4 > rss[$2]) rss[$2] = $4
    }
    END {
      for (i = 1; i <= 3; i++) { k = "node" i
        dt = (t1[k] - t0[k]) / 1000
        cpu = dt > 0 ? 100 * (c1[k] - c0[k]) / tick / dt : 0
        printf "%s%.0f%% / %.0f MB", (i > 1 ? " | " : ""), cpu, rss[k] / 1024
      }
    }' "$dir/proc.txt")
  machine=$(awk -v from="$from" '$2 == "machine" && $1 >= from { if (!n++) { b0 = $3; a0 = $4 } b1 = $3; a1 = $4 }
    END { printf "%.0f%%", (a1 > a0) ? 100 * (b1 - b0) / (a1 - a0) : 0 }' "$dir/proc.txt")
  # WARN/ERROR lines while running (up to the BENCH line) and during shutdown; their kinds in warnings.txt.
  local pat='^\[(WARNING|ERROR)\]|^(warn|fail|crit): ' run=0 down=0 k=0 c
  : >"$dir/warnings.txt"
  for f in "$dir"/node*.log; do
    c=$(head -n "${lines[$k]}" "$f" | grep -cE "$pat" || true); run=$((run + c))
    c=$(tail -n +"$((lines[$k] + 1))" "$f" | grep -cE "$pat" || true); down=$((down + c))
    { echo "== $(basename "$f") running"; head -n "${lines[$k]}" "$f" | grep -E "$pat" | sed -E 's/\[[0-9/]+ [0-9:.]+Z\]\[Thread [0-9]+\]//; s/(sim-|profiler\/|actuator\/|shard \[|for )[0-9.]+/\1N/g' | cut -c1-200 | sort | uniq -c | sort -rn || true
      echo "== $(basename "$f") shutdown"; tail -n +"$((lines[$k] + 1))" "$f" | grep -E "$pat" | sed -E 's/\[[0-9/]+ [0-9:.]+Z\]\[Thread [0-9]+\]//' | cut -c1-200 | sort | uniq -c | sort -rn || true; } >>"$dir/warnings.txt"
    k=$((k + 1))
  done
  ROWS+=("| $n | $seen | $due / $samples | $missing ($missing_max) | $ok | $decisions | $(get p50_ms) | $(get p90_ms) | $(get p99_ms) | $(get max_ms) | $cpu_rss | $machine | $run / $down |")
  echo "  node CPU / RSS: $cpu_rss; machine busy $machine; WARN/ERROR lines running / at shutdown: $run / $down (kinds: $dir/warnings.txt)"
}

for n in "${SIZES[@]}"; do run_size "$n"; done

{
  echo
  echo "| hosts | hosts seen (N + 3 nodes) | samples due / profiled | hosts missing samples (most missing) | none dropped | decisions | p50 ms | p90 ms | p99 ms | max ms | node1 CPU / RSS | node2 CPU / RSS | node3 CPU / RSS | machine busy | WARN/ERROR lines running / shutdown |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
} | tee "$OUT/results.md"
echo
echo "CPU: % of one core over the collector's window (utime+stime); RSS: peak VmRSS in the window; machine busy: all cores (/proc/stat)."
