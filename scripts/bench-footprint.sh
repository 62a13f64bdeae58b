#!/usr/bin/env bash
# Footprint of an idle node (issue 15 item 4): resident memory and CPU of the real Host process in each shape.
#
#   scripts/bench-footprint.sh
#
# Starts, on loopback with free ports, a one-node governor (the default shape: roles governor + sensor, SQLite journal
# in a fresh directory, the operator endpoint and the gRPC gateway on) and a sensor-only node (role sensor: no database,
# no shards, only the proxies; the operator endpoint stays) that joins it. Both sample this machine every 250 ms (the
# default) and govern nothing else: that is "idle". Once both are Up the script lets them settle (FOOTPRINT_SETTLE
# seconds), then reads each process' VmRSS (/proc/PID/status) and utime+stime (/proc/PID/stat) once a second for
# FOOTPRINT_SECONDS and prints one row per node: RSS at the end and the highest seen, CPU as % of one core over the
# window, the load average beside it (the machine may be shared), and at the end the process' threads and the
# assemblies it has mapped (distinct .dll files in /proc/PID/maps), two figures the load does not change; each node's
# /proc/PID/smaps at the end goes to the run's directory (what the memory is). Targets: sensor-only < 100 MB and < 1 % of
# a core, one-node < 150 MB.
#
# Environment:
#   FOOTPRINT_SETTLE (30)          seconds between both nodes Up and the window (JIT, tiering, first snapshots)
#   FOOTPRINT_SECONDS (60)         the measurement window
#   FOOTPRINT_OUT (logs/bench-footprint)   logs, generated configs, the /proc samples and results.md
#   SCARCITY_NO_BUILD=1            use src/Scarcity.Actors.Host as built
#   SCARCITY_CONFIGURATION         (Release)
#   FOOTPRINT_HOST_DLL             another build of the Host to measure (e.g. a `dotnet publish` output, ReadyToRun);
#                                  implies SCARCITY_NO_BUILD=1
#   FOOTPRINT_ARGS                 configuration keys for both nodes (e.g. --Scarcity:Gateway:Enabled=false)
#   DOTNET_*                       passed to both nodes, to compare runtime settings (e.g. DOTNET_TieredCompilation=0)
set -euo pipefail
cd "$(dirname "$0")/.."

SETTLE=${FOOTPRINT_SETTLE:-30}
WINDOW=${FOOTPRINT_SECONDS:-60}
CONFIGURATION=${SCARCITY_CONFIGURATION:-Release}
OUT=${FOOTPRINT_OUT:-logs/bench-footprint}
HOST_DLL=${FOOTPRINT_HOST_DLL:-src/Scarcity.Actors.Host/bin/$CONFIGURATION/net10.0/Scarcity.Actors.Host.dll}
TICK=$(getconf CLK_TCK)

die() { echo "bench-footprint.sh: $*" >&2; exit 1; }
[[ "$SETTLE" =~ ^[0-9]+$ ]] || die "FOOTPRINT_SETTLE must be a whole number of seconds, was '$SETTLE'"
[[ "$WINDOW" =~ ^[1-9][0-9]*$ ]] || die "FOOTPRINT_SECONDS must be a positive whole number of seconds, was '$WINDOW'"

if [ "${SCARCITY_NO_BUILD:-}" != 1 ] && [ -z "${FOOTPRINT_HOST_DLL:-}" ]; then
  dotnet build src/Scarcity.Actors.Host -c "$CONFIGURATION" -nologo -v q >/dev/null || die "the Host did not build"
fi
[ -f "$HOST_DLL" ] || die "$HOST_DLL is missing (build it, or unset SCARCITY_NO_BUILD)"

run_dir="$OUT/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$run_dir/data"
run_dir=$(cd "$run_dir" && pwd)

# Six free loopback ports: Akka, metrics and gateway of each node.
read -r -a PORTS <<<"$(python3 -c '
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks: s.close()')"

write_config() { # name roles-json akka metrics gateway seeds-json persistence-json
  cat >"$run_dir/$1.json" <<EOF
{
  "Scarcity": {
    "Host": "footprint-$1",
    "Sensor": { "Interval": "00:00:00.250" },
    "Persistence": $7,
    "Metrics": { "Address": "127.0.0.1", "Port": $4 },
    "Gateway": { "Address": "127.0.0.1", "Port": $5 },
    "Cluster": { "Hostname": "127.0.0.1", "Port": $3, "Roles": $2, "SeedNodes": $6 }
  }
}
EOF
}
write_config one-node '["governor", "sensor"]' "${PORTS[0]}" "${PORTS[1]}" "${PORTS[2]}" "[]" \
  "{ \"Provider\": \"Sqlite\", \"ConnectionString\": \"Data Source=$run_dir/data/scarcity.db\" }"
write_config sensor-only '["sensor"]' "${PORTS[3]}" "${PORTS[4]}" "${PORTS[5]}" "[\"akka.tcp://scarcity@127.0.0.1:${PORTS[0]}\"]" \
  '{ "Provider": "Sqlite" }'

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

declare -A UP_S
start_node() { # name
  # shellcheck disable=SC2086 # FOOTPRINT_ARGS is a list of keys
  dotnet "$HOST_DLL" --config "$run_dir/$1.json" ${FOOTPRINT_ARGS:-} >"$run_dir/$1.log" 2>&1 &
  PIDS+=("$!")
}
wait_up() { # name pid: also records the seconds from the start of the process to its "is Up" line
  local started deadline=$((SECONDS + 120))
  started=$(date +%s%N)
  until grep -q "is Up in the cluster" "$run_dir/$1.log"; do
    kill -0 "$2" 2>/dev/null || die "$1 exited before it was Up; see $run_dir/$1.log"
    [ $SECONDS -lt $deadline ] || die "$1 was not Up within 120 s; see $run_dir/$1.log"
    sleep 0.1
  done
  UP_S[$1]=$(awk -v a="$started" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
}

start_node one-node
wait_up one-node "${PIDS[0]}"
start_node sensor-only
wait_up sensor-only "${PIDS[1]}"
echo "Both nodes Up (one-node pid ${PIDS[0]}, sensor-only pid ${PIDS[1]}); settling ${SETTLE} s, then measuring ${WINDOW} s"
sleep "$SETTLE"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
threads() { ls "/proc/$1/task" | wc -l; }
assemblies() { awk '$6 ~ /\.dll$/ { print $6 }' "/proc/$1/maps" | sort -u | wc -l; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A first_ticks max_rss
for pid in "${PIDS[@]}"; do first_ticks[$pid]=$(cpu_ticks "$pid"); max_rss[$pid]=0; done
start_ns=$(date +%s%N)
for ((i = 0; i < WINDOW; i++)); do
  sleep 1
  for pid in "${PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || die "pid $pid exited during the window; see the logs in $run_dir"
    rss=$(rss_kb "$pid")
    echo "$(date -u +%H:%M:%S) $pid $rss $(cpu_ticks "$pid")" >>"$run_dir/proc-samples.txt"
    [ "$rss" -gt "${max_rss[$pid]}" ] && max_rss[$pid]=$rss
  done
done
for idx in 0 1; do cp "/proc/${PIDS[$idx]}/smaps" "$run_dir/$( ((idx == 0)) && echo one-node || echo sensor-only).smaps"; done
elapsed_s=$(awk -v a="$start_ns" -v b="$(date +%s%N)" 'BEGIN { print (b - a) / 1e9 }')
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

{
  echo "Idle footprint, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) logical CPUs, $(uname -r), $(dotnet --version 2>/dev/null | sed 's/^/.NET SDK /')"
  echo "load average at the window's start: $load_before; at its end: $load_after"
  echo "Host: $HOST_DLL"
  echo "DOTNET_ settings: $(env | grep '^DOTNET_' | grep -v '^DOTNET_CLI\|^DOTNET_NOLOGO\|^DOTNET_GENERATE' | tr '\n' ' ' || true); FOOTPRINT_ARGS: ${FOOTPRINT_ARGS:-none}"
  echo
  echo "| node | roles | start to Up | RSS at end | RSS max | CPU (% of one core) over ${WINDOW} s | threads | assemblies |"
  echo "|---|---|---|---|---|---|---|---|"
  names=(one-node sensor-only)
  roles=("governor, sensor (SQLite)" "sensor (no database, no shards)")
  for idx in 0 1; do
    pid=${PIDS[$idx]}
    ticks=$(($(cpu_ticks "$pid") - first_ticks[$pid]))
    awk -v n="${names[$idx]}" -v r="${roles[$idx]}" -v up="${UP_S[${names[$idx]}]}" -v rss="$(rss_kb "$pid")" -v max="${max_rss[$pid]}" \
        -v t="$ticks" -v hz="$TICK" -v s="$elapsed_s" -v th="$(threads "$pid")" -v asm="$(assemblies "$pid")" \
        'BEGIN { printf "| %s | %s | %s s | %.1f MB | %.1f MB | %.2f %% | %d | %d |\n", n, r, up, rss / 1024, max / 1024, 100 * t / hz / s, th, asm }'
  done
} | tee -a "$run_dir/results.md"
echo "Logs, configs and samples: $run_dir"
