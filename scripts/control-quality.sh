#!/usr/bin/env bash
# Control quality (docs/control-quality.md): `scarcity simulate --all` plus every published scenario file, with the
# governor's configuration as given (default: the Host's defaults), printed as one Markdown table per scenario row:
# no governor / ours / oracle.
#   scripts/control-quality.sh                         # --delay 1, tests/scenarios/*.csv
#   scripts/control-quality.sh --config my.json --delay 2
# Extra arguments go to `scarcity simulate` as they are. Needs jq.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command -v jq >/dev/null 2>&1 || { echo "scripts/control-quality.sh: needs jq (apt-get install jq)" >&2; exit 2; }
args=("$@")
[[ " ${args[*]-} " == *" --delay "* ]] || args+=(--delay 1)

json="$("$root/scripts/scarcity" simulate --all "$root"/tests/scenarios/*.csv --json "${args[@]}")"

jq -r '
  def f1: (. * 10 | round) / 10 | tostring;
  def f3: if . == null then "-" else (. * 1000 | round) / 1000 | tostring end;
  "config: \(.config); delay: \(.delay) sample(s)\n",
  "| scenario | OOMs (none / ours / oracle) | lost | s over SLO | good | rejected | good / oracle (none / ours) |",
  "|---|---|---|---|---|---|---|",
  (.scenarios[] |
    "| \(.scenario) | \(.noGovernor.ooms) / \(.ours.ooms) / \(.oracle.ooms)"
    + " | \(.noGovernor.requestsLost | f1) / \(.ours.requestsLost | f1) / \(.oracle.requestsLost | f1)"
    + " | \(.noGovernor.secondsOverSlo | f1) / \(.ours.secondsOverSlo | f1) / \(.oracle.secondsOverSlo | f1)"
    + " | \(.noGovernor.goodRequests | f1) / \(.ours.goodRequests | f1) / \(.oracle.goodRequests | f1)"
    + " | \(.noGovernor.requestsRejected | f1) / \(.ours.requestsRejected | f1) / \(.oracle.requestsRejected | f1)"
    + " | \(.noGovernor.goodOverOracle | f3) / **\(.ours.goodOverOracle | f3)** |")
' <<<"$json"
