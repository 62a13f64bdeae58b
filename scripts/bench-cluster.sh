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
#   BENCH_NODE_DLL                another build of the node to run (implies no build), e.g. a ReadyToRun publish with the
#                                 governors' profile (docs/performance-cluster.md, "Session 7"), for an A/B
#   SCARCITY_CONFIGURATION        (Release)
#   BENCH_HOCON (unset)           Akka HOCON every node puts in front of its own (the nodes read it from their environment),
#                                 e.g. another dispatcher executor for an A/B (docs/performance-cluster.md, "Session 13")
#   BENCH_GC_REPORT (unset)       1: every node logs a GCSTAT line per 10 s (collections by generation, pauses: count,
#                                 total, longest); alloc: also a GCALLOC line of the types allocated most (the runtime's
#                                 allocation ticks, one per ~100 KB). The nodes read it from their environment.
#   BENCH_STARTUP (unset)         all | rolling: measure start-up instead (cold start, then a restart of the three
#                                 governors with a fourth, sensor-only node still driving the fleet); see the start-up
#                                 section below and docs/performance-cluster.md. Results in OUT/startup-results.md.
#   BENCH_STARTUP_HOLD (30)       seconds every steady-state condition must hold (start-up mode)
#   BENCH_STARTUP_LAG_MS (1000)   the largest sample-to-decision latency a steady second may have (start-up mode)
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(50 500)
SECONDS_WINDOW=${BENCH_SECONDS:-60}
TIMEOUT_S=${BENCH_TIMEOUT_S:-300}
BASE_PORT=${BENCH_BASE_PORT:-4153}
export SCARCITY_PG_PORT=${SCARCITY_PG_PORT:-55452}
CONFIGURATION=${SCARCITY_CONFIGURATION:-Release}
NODE_DLL=${BENCH_NODE_DLL:-tools/Scarcity.Actors.FleetBench/bin/$CONFIGURATION/net10.0/Scarcity.Actors.FleetBench.dll}
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
if [ "${SCARCITY_NO_BUILD:-0}" != 1 ] && [ -z "${BENCH_NODE_DLL:-}" ]; then
  echo "building the benchmark node ($CONFIGURATION)"
  dotnet build tools/Scarcity.Actors.FleetBench -c "$CONFIGURATION" -nologo -v q >"$OUT/build.log" 2>&1 \
    || { grep -E "error" "$OUT/build.log" | head -n 20 >&2; die "build failed (see $OUT/build.log)"; }
fi
[ -f "$NODE_DLL" ] || die "$NODE_DLL not found"

node_json() { # INDEX PORT URL [ROLES-JSON [SEEDS-JSON]]
  local roles=${4:-'[ "governor", "sensor" ]'}
  local seeds=${5:-"[ \"akka.tcp://scarcity@127.0.0.1:$BASE_PORT\", \"akka.tcp://scarcity@127.0.0.1:$((BASE_PORT + 1))\" ]"}
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
      "SeedNodes": $seeds,
      "Roles": $roles
    }
  }
}
JSON
}

# One line per second per node: epoch_ms node utime+stime(ticks) VmRSS(kB) pid context-switches (voluntary and not, all
# threads: the node's wake-ups); and the machine: epoch_ms cpu busy total.
sample_proc() { # DIR
  local t i pid stat rss cs
  t=$(now_ms)
  for i in "${!PIDS[@]}"; do
    pid=${PIDS[$i]}
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    stat=${stat##*) }     # fields from 3 (state) on; utime is field 14, stime 15
    read -r -a f <<<"$stat"
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
    # (a thread may end between the glob and the read: that cat fails, the sum is of the others)
    cs=$({ cat /proc/"$pid"/task/*/status 2>/dev/null || true; } | awk '/ctxt_switches:/ { s += $2 } END { print s + 0 }')
    echo "$t node$((i + 1)) $((f[11] + f[12])) $rss $pid $cs" >>"$1/proc.txt"
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
  # Context switches a second per node over the same window (a node's wake-ups: thread-pool work items on idle
  # mailboxes, timers, sockets), and per host-sample the cluster handles (N + 3 hosts at 4 Hz).
  local switches
  switches=$(awk -v from="$from" -v hs=$(((n + NODES) * 4)) '
    $2 ~ /^node/ && $1 >= from && NF >= 6 {
      if (!($2 in t0)) { t0[$2] = $1; s0[$2] = $6 }
      t1[$2] = $1; s1[$2] = $6
    }
    END {
      for (i = 1; i <= 3; i++) { k = "node" i; dt = (t1[k] - t0[k]) / 1000
        r = dt > 0 ? (s1[k] - s0[k]) / dt : 0; all += r
        printf "%s%.0f", (i > 1 ? " / " : ""), r }
      printf "/s, %.1f per host-sample", all / hs
    }' "$dir/proc.txt")
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
  echo "  node CPU / RSS: $cpu_rss; machine busy $machine; context switches $switches; WARN/ERROR lines running / at shutdown: $run / $down (kinds: $dir/warnings.txt)"
}

# ---- Start-up mode (BENCH_STARTUP=all|rolling, issue 15 item 3) ----
# Four processes: the fleet driver (node4: roles [sensor] only, so it holds no entities and stays up; first seed; all N
# simulated hosts; --probe) and three governor nodes (roles governor + sensor, --hosts 0). The driver's PROBE line
# (tools/Scarcity.Actors.FleetBench/StartupProbe.cs), once a second, says what the governors expose: the host region's
# entities from GetClusterShardingStats, the hosts seen fresh in the fleet view's digests, the decisions of that second.
#
# Steady state at second T: every PROBE line from T on, for BENCH_STARTUP_HOLD (30) consecutive seconds, has
#   regions = 3 (every governor's region answers), failed_shards = 0,
#   entities = 2N + 4 (N profilers, N actuators, the 4 nodes' own-host profilers: every remembered entity running),
#   hosts_fresh = hosts_seen = N + 4 (every host's newest profile reached the fleet view in the last 2 s and is not
#   stale: nobody flaps stale/fresh after T),
#   decisions > 0 and decision_max_ms <= BENCH_STARTUP_LAG_MS (1000): decisions flow, none more than 1 s behind its sample.
# The start-up time is T minus the moment the first (re)started governor process was launched.
# Phases: "cold" (first start on an empty database), then the governors are restarted with the driver still sending:
#   all     SIGTERM to all three at once, wait until they exited, start all three (a full outage of the governor tier);
#   rolling one at a time: SIGTERM, wait for exit, start, wait until the probe sees 3 regions again, then the next.
STARTUP_HOLD=${BENCH_STARTUP_HOLD:-30}
STARTUP_LAG_MS=${BENCH_STARTUP_LAG_MS:-1000}
[[ "$STARTUP_HOLD" =~ ^[1-9][0-9]*$ ]] || die "BENCH_STARTUP_HOLD must be a positive number of seconds, was '$STARTUP_HOLD'"
[[ "$STARTUP_LAG_MS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_STARTUP_LAG_MS must be a positive number of milliseconds, was '$STARTUP_LAG_MS'"

start_governor() { # DIR INDEX(0..2) URL RUN
  local dir=$1 i=$2 url=$3 run=$4
  Scarcity__Persistence__ConnectionString="$url" Scarcity__Gpu__Enabled=false \
    setsid dotnet "$NODE_DLL" --config "$dir/node$((i + 1)).json" --hosts 0 \
    >"$dir/node$((i + 1)).$run.log" 2>&1 </dev/null &
  PIDS[$i]=$!
  echo "  node$((i + 1)) ($run): pid $!"
}

stop_pid() { # PID
  local pid=$1 deadline=$((SECONDS + 30))
  alive "$pid" && kill -TERM "$pid" 2>/dev/null || true
  while alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; echo "  pid $pid did not stop in 30 s, killed" >&2; fi
}

# Prints "T_MS" of the steady state among the PROBE lines at or after FROM_MS, or nothing yet.
steady_at() { # DIR FROM_MS HOSTS
  { grep '^PROBE ' "$1/node4.log" || true; } | awk -v from="$2" -v n="$3" -v hold="$STARTUP_HOLD" -v lag="$STARTUP_LAG_MS" '
    { delete k; for (i = 2; i <= NF; i++) { split($i, kv, "="); k[kv[1]] = kv[2] } }
    k["t_ms"] < from { next }
    {
      ok = k["regions"] == 3 && k["failed_shards"] == 0 && k["entities"] == 2 * n + 4 && k["hosts_seen"] == n + 4 &&
           k["hosts_fresh"] == n + 4 && k["decisions"] > 0 && k["decision_max_ms"] <= lag
      if (!ok) { run = 0; next }
      if (run++ == 0) t = k["t_ms"]
      if (run >= hold) { print t; exit }
    }'
}

# Waits for the steady state after FROM_MS; sets STEADY_MS (empty on time-out or a node's exit).
wait_steady() { # DIR FROM_MS HOSTS
  local deadline=$((SECONDS + TIMEOUT_S)) i
  STEADY_MS=""
  while [ -z "$STEADY_MS" ]; do
    sample_proc "$1"
    for i in "${!PIDS[@]}"; do alive "${PIDS[$i]}" || { echo "  node$((i + 1)) exited" >&2; return; }; done
    STEADY_MS=$(steady_at "$1" "$2" "$3" || true)
    [ -n "$STEADY_MS" ] && return
    [ $SECONDS -ge $deadline ] && { echo "  no steady state within ${TIMEOUT_S} s" >&2; return; }
    sleep 1
  done
}

# CPU seconds (utime+stime) each node used between FROM_MS and TO_MS, and the peak RSS (MB) in that span.
phase_cpu() { # DIR FROM_MS TO_MS
  awk -v from="$2" -v to="$3" -v tick="$TICK" '
    $2 ~ /^node/ && $1 <= to {
      d = ($2 in pid && pid[$2] == $5) ? $3 - last[$2] : $3   # a new process (restart) counts from its own start
      if ($1 >= from) { used[$2] += d; if ($4 > rss[$2]) rss[$2] = $4 }
      pid[$2] = $5; last[$2] = $3
    }
    END { for (i = 1; i <= 4; i++) { k = "node" i; printf "%s%.1f s / %.0f MB", (i > 1 ? ", " : ""), used[k] / tick, rss[k] / 1024 } }' "$1/proc.txt"
}

run_startup() { # N MODE
  local n=$1 mode=$2 dir="$OUT/startup-$2-$1" url i port t_first t_restart cold rest
  rm -rf "$dir"; mkdir -p "$dir"
  for ((i = 0; i <= NODES; i++)); do port_open $((BASE_PORT + i)) && die "port $((BASE_PORT + i)) is in use (BENCH_BASE_PORT)"; done
  local db="${BENCH_DB_PREFIX:-bench_cluster}_startup_$n"
  url=$(scripts/postgres.sh createdb "$db") || die "createdb failed"
  local seeds="[ \"akka.tcp://scarcity@127.0.0.1:$((BASE_PORT + NODES))\", \"akka.tcp://scarcity@127.0.0.1:$BASE_PORT\" ]"
  echo "== start-up ($mode), $n hosts: database $db, logs in $dir"
  for ((i = 0; i < NODES; i++)); do node_json $((i + 1)) $((BASE_PORT + i)) "$url" '[ "governor", "sensor" ]' "$seeds" >"$dir/node$((i + 1)).json"; done
  node_json $((NODES + 1)) $((BASE_PORT + NODES)) "$url" '[ "sensor" ]' "$seeds" >"$dir/node4.json"
  PIDS=()
  Scarcity__Persistence__ConnectionString="$url" Scarcity__Gpu__Enabled=false \
    setsid dotnet "$NODE_DLL" --config "$dir/node4.json" --hosts "$n" --start-after-members $((NODES + 1)) --probe \
    >"$dir/node4.log" 2>&1 </dev/null &
  PIDS[$NODES]=$!
  echo "  node4 (fleet driver, sensor only): pid $!, $n simulated hosts, probe"
  t_first=$(now_ms)
  for ((i = 0; i < NODES; i++)); do start_governor "$dir" $i "$url" cold; done
  wait_steady "$dir" "$t_first" "$n"
  [ -n "$STEADY_MS" ] || { stop_nodes; ROWS+=("| $n | $mode | no cold steady state (see $dir) |"); return; }
  cold=$(( (STEADY_MS - t_first) ))
  echo "  cold start: steady after $((cold / 1000)).$(( (cold % 1000) / 100 )) s (CPU s / peak RSS per node: $(phase_cpu "$dir" "$t_first" "$STEADY_MS"))"
  # Restart once the steady state has held for the hold window (wait_steady returns then).
  local t_stop; t_stop=$(now_ms)
  if [ "$mode" = all ]; then
    for ((i = 0; i < NODES; i++)); do alive "${PIDS[$i]}" && kill -TERM "${PIDS[$i]}" 2>/dev/null || true; done
    for ((i = 0; i < NODES; i++)); do stop_pid "${PIDS[$i]}"; done
    t_restart=$(now_ms)
    for ((i = 0; i < NODES; i++)); do start_governor "$dir" $i "$url" restart; done
  else
    t_restart=""
    for ((i = 0; i < NODES; i++)); do
      stop_pid "${PIDS[$i]}"
      local t_up; t_up=$(now_ms)
      [ -n "$t_restart" ] || t_restart=$t_up
      start_governor "$dir" $i "$url" restart
      # The next node only once this one's region answers again (3 regions in a PROBE line after its start).
      local deadline=$((SECONDS + TIMEOUT_S))
      until { grep '^PROBE ' "$dir/node4.log" || true; } | awk -v from="$t_up" '{ split($2, t, "="); split($3, r, "=") } t[2] >= from && r[2] == 3 { f = 1 } END { exit !f }'; do
        sample_proc "$dir"
        alive "${PIDS[$i]}" || { echo "  node$((i + 1)) exited" >&2; break; }
        [ $SECONDS -lt $deadline ] || { echo "  node$((i + 1)) not back within ${TIMEOUT_S} s" >&2; break; }
        sleep 1
      done
    done
  fi
  wait_steady "$dir" "$t_restart" "$n"
  local t_end; t_end=$(now_ms)
  # Anything not steady after the hold window would show here: lines after the steady point that break the conditions.
  local cpu; cpu=$(phase_cpu "$dir" "$t_restart" "${STEADY_MS:-$t_end}")
  local warn kinds
  warn=$(cat "$dir"/node*.restart.log "$dir/node4.log" | grep -cE '^\[(WARNING|ERROR)\]|^(warn|fail|crit): ' || true)
  kinds=$(cat "$dir"/node*.restart.log | grep -oE 'Failed to load initial entity ids|Remember entity store did not respond|heartbeat interval is growing|Dropping|is stale|timed out|Circuit Breaker' | sort | uniq -c | awk '{ c = $1; $1 = ""; printf "%s%s x%s", (n++ ? ";" : ""), $0, c }')
  stop_nodes
  if [ -z "$STEADY_MS" ]; then ROWS+=("| $n | $mode | $((cold / 1000)) s | no steady state in ${TIMEOUT_S} s (see $dir) | | | |"); return; fi
  rest=$((STEADY_MS - t_restart))
  echo "  restart ($mode): steady after $((rest / 1000)).$(( (rest % 1000) / 100 )) s from the first governor's start ($(( (STEADY_MS - t_stop) / 1000 )) s from the first stop); CPU s / peak RSS: $cpu"
  ROWS+=("| $n | $mode | $((cold / 1000)).$(( (cold % 1000) / 100 )) s | $((rest / 1000)).$(( (rest % 1000) / 100 )) s | $(( (STEADY_MS - t_stop) / 1000 )) s | $cpu | $warn | ${kinds:-none} |")
}

if [ -n "${BENCH_STARTUP:-}" ]; then
  [[ "$BENCH_STARTUP" =~ ^(all|rolling)$ ]] || die "BENCH_STARTUP must be 'all' or 'rolling', was '$BENCH_STARTUP'"
  for n in "${SIZES[@]}"; do run_startup "$n" "$BENCH_STARTUP"; done
  {
    echo
    echo "| hosts | restart | cold start to steady | restart to steady (from the first governor's start) | from the first stop | CPU s / peak RSS from restart to steady (node1-3 governors, node4 driver) | WARN/ERROR lines | kinds (governors) |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
  } | tee "$OUT/startup-results.md"
  exit 0
fi

for n in "${SIZES[@]}"; do run_size "$n"; done

{
  echo
  echo "| hosts | hosts seen (N + 3 nodes) | samples due / profiled | hosts missing samples (most missing) | none dropped | decisions | p50 ms | p90 ms | p99 ms | max ms | node1 CPU / RSS | node2 CPU / RSS | node3 CPU / RSS | machine busy | WARN/ERROR lines running / shutdown |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
} | tee "$OUT/results.md"
echo
echo "CPU: % of one core over the collector's window (utime+stime); RSS: peak VmRSS in the window; machine busy: all cores (/proc/stat)."
