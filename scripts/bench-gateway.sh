#!/usr/bin/env bash
# The gRPC gateway with Python subsystems, on loopback (issue 14, item 7), printing its figures:
#  1. sample -> Throttle applied in a Python process through the gateway (target p99 <= 10 ms): a governor node and its
#     gateway in the benchmark's process, the Python sample engine (clients/python/examples/engine_model.py) as a child;
#  2. 100 Python subsystems (clients/python/bench/report_fleet.py, one process, one Govern stream each) reporting at
#     4 Hz for a minute: values the clients wrote against values the profilers profiled (target: nothing lost).
# Needs Debian's python3-grpcio and python3-protobuf (scripts/test.sh installs them). Arguments:
#   --samples N (latency run, default 1000), --seconds N --subsystems N --rate-hz N (report run; 60, 100, 4)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
samples=1000; seconds=60; subsystems=100; rate=4
while [ $# -gt 0 ]; do
  case "$1" in
    --samples) samples=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --subsystems) subsystems=$2; shift 2 ;;
    --rate-hz) rate=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
/usr/bin/python3 -c "import grpc, google.protobuf" 2>/dev/null \
  || { echo "python3-grpcio and python3-protobuf are needed: apt-get install -y python3-grpcio python3-protobuf" >&2; exit 2; }

project=tests/Scarcity.Actors.Benchmarks
dotnet build -c Release -nologo -v q "$project" | grep -vE "NU1603|^$" || true
dll="$project/bin/Release/net10.0/Scarcity.Actors.Benchmarks.dll"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

status=0
echo "== sample -> Throttle applied in a Python process through the gateway"
dotnet "$dll" --python-gateway-latency --samples "$samples" --warmup 100 | grep -v "is marked down and gets the current levels" || status=1
echo
echo "== $subsystems Python subsystems reporting at $rate Hz for $seconds s through the gateway"
# (the node logs each subsystem going away when the Python process ends: 100 lines of no interest here)
dotnet "$dll" --python-gateway-reports --subsystems "$subsystems" --rate-hz "$rate" --seconds "$seconds" \
  | grep -v "is marked down and gets the current levels" || status=1
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
