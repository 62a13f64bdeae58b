#!/usr/bin/env bash
# A local three-node governor cluster on PostgreSQL (cluster-config/three-node/node*.json).
#
#   scripts/cluster.sh start     PostgreSQL (scripts/postgres.sh), one build of the Host, then every node; waits until
#                                each has joined the cluster (120 s at most)
#   scripts/cluster.sh stop      SIGTERM every node (it leaves the cluster), kill -9 after 30 s; PostgreSQL keeps running
#                                (scripts/postgres.sh stop)
#   scripts/cluster.sh status    each node: pid, port, joined or not, its last status line
#
# Logs in logs/<node>.log (the previous runs' as .1 .. .5, SCARCITY_KEEP_LOGS), pids in logs/cluster.pids.
# Environment: SCARCITY_CLUSTER_CONFIG (the folder of node JSON
# files, cluster-config/three-node), SCARCITY_NO_BUILD=1 (use the Host as built), SCARCITY_PG_PORT (see postgres.sh;
# the nodes get the script's connection string through Scarcity__Persistence__ConnectionString).
set -euo pipefail
cd "$(dirname "$0")/.."

CONFIG_DIR=${SCARCITY_CLUSTER_CONFIG:-cluster-config/three-node}
LOGS=logs
KEEP_LOGS=${SCARCITY_KEEP_LOGS:-5}
PIDS=$LOGS/cluster.pids
CONFIGURATION=${SCARCITY_CONFIGURATION:-Release}
HOST_DLL=src/Scarcity.Actors.Host/bin/$CONFIGURATION/net10.0/Scarcity.Actors.Host.dll
WAIT_S=${SCARCITY_CLUSTER_WAIT_S:-120}

die() { echo "cluster.sh: $*" >&2; exit 1; }

nodes() { ls "$CONFIG_DIR"/node*.json 2>/dev/null | sort -V; }
node_name() { basename "$1" .json; }
node_port() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Scarcity"]["Cluster"]["Port"])' "$1" 2>/dev/null \
  || sed -nE 's/.*"Port": *([0-9]+).*/\1/p' "$1" | tail -n 1; }
pid_of() { if [ -f "$PIDS" ]; then awk -v n="$1" '$1 == n { print $2 }' "$PIDS" | tail -n 1; fi; }
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# An earlier run's log is kept: node1.log -> node1.log.1 -> ... -> node1.log.$KEEP_LOGS (the oldest is dropped).
rotate_log() {
  local log=$1 i
  [ -s "$log" ] || return 0
  for ((i = KEEP_LOGS - 1; i >= 1; i--)); do [ -f "$log.$i" ] && mv -f "$log.$i" "$log.$((i + 1))"; done
  mv -f "$log" "$log.1"
}
joined() { grep -qE "is Up in the cluster" "$LOGS/$1.log" 2>/dev/null; }

start() {
  [ -n "$(nodes)" ] || die "no node*.json in $CONFIG_DIR"
  mkdir -p "$LOGS"
  local url
  url=$(scripts/postgres.sh start) || die "PostgreSQL did not start"
  if [ "${SCARCITY_NO_BUILD:-0}" != 1 ]; then
    echo "building the Host ($CONFIGURATION)"
    dotnet build src/Scarcity.Actors.Host -c "$CONFIGURATION" -nologo -v q >"$LOGS/build.log" 2>&1 \
      || { grep -E "error" "$LOGS/build.log" | head -n 20 >&2; die "build failed (see $LOGS/build.log)"; }
  fi
  [ -f "$HOST_DLL" ] || die "$HOST_DLL not found"

  local f name pid
  for f in $(nodes); do
    name=$(node_name "$f")
    pid=$(pid_of "$name")
    if alive "$pid"; then echo "$name already running (pid $pid)"; continue; fi
    if port_open "$(node_port "$f")"; then die "$name: port $(node_port "$f") is in use by another process"; fi
    rotate_log "$LOGS/$name.log"
    # setsid: a node of its own process group, so that stopping it never reaches this shell.
    Scarcity__Persistence__ConnectionString="$url" setsid dotnet "$HOST_DLL" --config "$f" >"$LOGS/$name.log" 2>&1 </dev/null &
    echo "$name $!" >>"$PIDS"
    echo "$name started (pid $!, port $(node_port "$f"), log $LOGS/$name.log)"
  done

  local deadline=$((SECONDS + WAIT_S)) pending
  while :; do
    pending=""
    for f in $(nodes); do
      name=$(node_name "$f")
      alive "$(pid_of "$name")" || { tail -n 30 "$LOGS/$name.log" >&2; die "$name exited during start-up (see $LOGS/$name.log)"; }
      port_open "$(node_port "$f")" && joined "$name" || pending="$pending $name"
    done
    [ -z "$pending" ] && break
    [ $SECONDS -ge $deadline ] && die "not joined after ${WAIT_S}s:$pending (see $LOGS/)"
    sleep 1
  done
  echo "cluster up: $(nodes | wc -l) nodes joined in $CONFIG_DIR"
}

stop() {
  [ -f "$PIDS" ] || { echo "no cluster running (no $PIDS)"; return 0; }
  local name pid
  # Newest first, so that the seed nodes leave last.
  while read -r name pid; do
    if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; echo "$name: SIGTERM (pid $pid)"; fi
  done < <(tac "$PIDS")
  local deadline=$((SECONDS + 30))
  while read -r name pid; do
    while alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; echo "$name: did not stop in 30 s, killed"; fi
  done <"$PIDS"
  rm -f "$PIDS"
  echo "stopped"
}

status() {
  local f name pid port any=0
  for f in $(nodes); do
    name=$(node_name "$f"); pid=$(pid_of "$name"); port=$(node_port "$f")
    if alive "$pid"; then
      any=1
      printf '%s: running, pid %s, port %s %s, %s\n' "$name" "$pid" "$port" \
        "$(port_open "$port" && echo open || echo closed)" "$(joined "$name" && echo joined || echo "not joined")"
      grep -E "^[0-9]{2}:[0-9]{2}:[0-9]{2} " "$LOGS/$name.log" 2>/dev/null | tail -n 1 | cut -c1-160 | sed 's/^/    /' || true
    else
      echo "$name: stopped"
    fi
  done
  scripts/postgres.sh status || true
  [ $any -eq 1 ]
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
