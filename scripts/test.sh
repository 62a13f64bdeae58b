#!/usr/bin/env bash
# Runs every test of the solution and ends with one line: "N passed, N failed".
# Needs the .NET SDK 10 and gcc (the fake NVML library is compiled by the test build). The cluster specs
# (tests/Scarcity.Actors.ClusterTests) need PostgreSQL: scripts/postgres.sh installs it from Debian when missing and
# starts a throwaway server for the run; when it cannot, those specs fail with the reason, the others run as usual.
# The operator specs need /usr/bin/prometheus: installed from Debian below when missing.
# The Python client's tests (clients/python) need Debian's python3 packages: installed below when missing.
set -uo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
pg_started=0
cleanup() {
  rm -f "$log"
  if [ "$pg_started" -eq 1 ]; then scripts/postgres.sh stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

if ! command -v gcc >/dev/null 2>&1; then
  echo "gcc not found: installing it (the GPU specs compile a fake NVML library)" >&2
  (apt-get update -qq && apt-get install -y -qq gcc) >/dev/null 2>&1 || echo "could not install gcc" >&2
fi

# iproute2 for the partition spec (it puts a node in a network namespace of its own); without it the spec fails saying so.
if ! command -v ip >/dev/null 2>&1; then
  echo "ip not found: installing iproute2 (the partition spec makes a network namespace)" >&2
  (apt-get update -qq && apt-get install -y -qq iproute2) >/dev/null 2>&1 || echo "could not install iproute2" >&2
fi

# Prometheus for the operator specs (a real server scrapes a node's /metrics): Debian's package, when it is offered.
# apt-get update runs at most once per run; without the binary those specs fail and say why.
if [ ! -x /usr/bin/prometheus ]; then
  if [ -z "$(apt-cache policy prometheus 2>/dev/null | grep -E 'Candidate: [0-9]')" ]; then
    apt-get update -qq >/dev/null 2>&1
  fi
  echo "prometheus not found: installing Debian's (the operator specs scrape a node with it)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null 2>&1 || echo "could not install prometheus" >&2
fi

dotnet build Scarcity.Actors.sln -c Release -nologo -v q 2>&1 | tee "$log" | grep -E "error|Warn|Elapsed" | grep -v NU1603
build=${PIPESTATUS[0]}
if [ "$build" -ne 0 ]; then
  echo "build failed" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

# PostgreSQL for the cluster specs: started here (and stopped at the end) unless it was already running.
if scripts/postgres.sh status >/dev/null 2>&1; then
  echo "PostgreSQL: already running ($(scripts/postgres.sh url))"
elif pg_out=$(scripts/postgres.sh start 2>&1); then
  pg_started=1
  echo "PostgreSQL: started for the cluster specs ($(tail -n 1 <<<"$pg_out"))"
else
  # The specs fail fast with this reason instead of trying (and waiting for apt) again.
  export SCARCITY_PG_UNAVAILABLE="${pg_out//$'\n'/ }"
  echo "PostgreSQL unavailable, the cluster specs will fail: $SCARCITY_PG_UNAVAILABLE" >&2
fi

# -m:1: one test project at a time (the cluster specs start three governor processes; 2 cores are not enough for
# those and the timing-sensitive unit specs at once).
dotnet test Scarcity.Actors.sln -c Release --no-build -nologo -m:1 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# The Kubernetes manifests (cluster-config/kubernetes) against the API schemas: tests/kubernetes/validate.mjs, with node
# and npm from Debian when missing; its summary line is counted with the dotnet ones.
k8s() {
  if ! command -v npm >/dev/null 2>&1; then
    echo "node/npm not found: installing them from Debian (the manifest validator)" >&2
    (apt-get update -qq && apt-get install -y -qq nodejs npm) >/dev/null 2>&1 || { echo "Failed!  - Failed: 1, Passed: 0 - could not install node/npm"; return; }
  fi
  if [ ! -d tests/kubernetes/node_modules ] || [ tests/kubernetes/package-lock.json -nt tests/kubernetes/node_modules ]; then
    (cd tests/kubernetes && npm ci --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null 2>&1) \
      || { echo "Failed!  - Failed: 1, Passed: 0 - npm ci in tests/kubernetes failed (offline, and no packages cached?)"; return; }
  fi
  node tests/kubernetes/validate.mjs
}
k8s 2>&1 | tee -a "$log"

# The Python client (clients/python): Debian's python3 packages (no PyPI here), the client installed with pip into a
# virtual environment that sees them (clients/python/.venv, --system-site-packages; Debian 12's pip refuses the system
# site without --break-system-packages), then pytest: unit specs, and the end-to-end specs against the Host just built.
# Its summary line is counted with the dotnet ones.
python_client() {
  local pkgs="python3-grpcio python3-protobuf python3-pytest python3-pytest-asyncio python3-starlette python3-httpx python3-uvicorn python3-pip python3-venv python3-wheel python3-setuptools python3-mypy protobuf-compiler libprotobuf-dev"
  local missing=""
  for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    echo "installing Debian packages for the Python client:$missing" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing) >/dev/null 2>&1 \
      || { echo "Failed!  - Failed: 1, Passed: 0 - python client: could not install$missing"; return; }
  fi
  local venv=clients/python/.venv
  [ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv --system-site-packages "$venv" \
    || { echo "Failed!  - Failed: 1, Passed: 0 - python client: could not create $venv"; return; }
  "$venv/bin/pip" install -q --no-build-isolation --no-deps --force-reinstall clients/python >/dev/null 2>&1 \
    || { echo "Failed!  - Failed: 1, Passed: 0 - python client: pip install clients/python failed"; return; }
  rm -rf clients/python/build
  local out
  out=$(cd clients/python && SCARCITY_E2E_REQUIRED=1 timeout 900 .venv/bin/python -m pytest -q -p no:cacheprovider tests 2>&1)
  echo "$out" | tail -n 30
  local summary passed failed errors skipped
  summary=$(tail -n 1 <<<"$out")
  passed=$(grep -oE '[0-9]+ passed' <<<"$summary" | grep -oE '[0-9]+'); passed=${passed:-0}
  failed=$(grep -oE '[0-9]+ failed' <<<"$summary" | grep -oE '[0-9]+'); failed=${failed:-0}
  errors=$(grep -oE '[0-9]+ errors?' <<<"$summary" | grep -oE '[0-9]+'); errors=${errors:-0}
  skipped=$(grep -oE '[0-9]+ skipped' <<<"$summary" | grep -oE '[0-9]+'); skipped=${skipped:-0}
  failed=$((failed + errors))
  if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi  # pytest did not report: count it
  local verdict="Passed!"; [ "$failed" -eq 0 ] || verdict="Failed!"
  echo "$verdict  - Failed: $failed, Passed: $passed, Skipped: $skipped, Total: $((passed + failed + skipped)) - python client"
}
python_client 2>&1 | tee -a "$log"

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
