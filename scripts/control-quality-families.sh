#!/usr/bin/env bash
# Control quality per family (docs/control-quality.md, "Families"): writes the unpublished scenarios of every family with
# scripts/generate-scenario-families.py into a scratch folder, runs `scarcity simulate` on them and the published ones
# (--delay 1 unless given), and prints per family: runs, OOMs (sum, max), seconds over the SLO (max, mean), good / oracle
# (min, mean), the step-safe bound's good / oracle (mean, and its runs under 0.90: the oracle held to the batch that fits the
# scenario's largest context, a batch safe at every step; not a strict upper bound), and the runs that miss
# 0 OOMs or 0.90 of the oracle. Extra arguments go to `scarcity simulate`. Needs jq.
# --seed-offset N (first): the holdout set of generate-scenario-families.py --seed-offset N instead, without the published files.
#   scripts/control-quality-families.sh
#   scripts/control-quality-families.sh --seed-offset 1
#   Scarcity__Policy__LearnedInitialLevel=0.5 scripts/control-quality-families.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command -v jq >/dev/null 2>&1 || { echo "scripts/control-quality-families.sh: needs jq (apt-get install jq)" >&2; exit 2; }
offset=0
if [[ "${1-}" == "--seed-offset" ]]; then
  [[ "${2-}" =~ ^[0-9]+$ ]] || { echo "scripts/control-quality-families.sh: --seed-offset needs a whole number, was '${2-}'" >&2; exit 2; }
  offset="$2"; shift 2
fi
args=("$@")
[[ " ${args[*]-} " == *" --delay "* ]] || args+=(--delay 1)
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
"$root/scripts/generate-scenario-families.py" --seed-offset "$offset" "$scratch" >/dev/null
published=("$root"/tests/scenarios/*.csv)
[[ "$offset" == 0 ]] || published=()

"$root/scripts/scarcity" simulate $([[ "$offset" == 0 ]] && echo --all) ${published[@]+"${published[@]}"} "$scratch"/*.csv --json "${args[@]}" | jq -r '
  .scenarios[] | [(.scenario | split("/") | last | sub("\\.csv$"; "")), .ours.ooms, .ours.secondsOverSlo, .ours.goodOverOracle, .stepSafe.goodOverOracle] | @tsv' |
python3 -c '
import collections, re, sys
families = collections.OrderedDict()
for line in sys.stdin:
    name, ooms, over, ratio, safe = line.rstrip("\n").split("\t")
    family = re.sub(r"-(\d+|[xyz]|r\d)$", "", name)
    families.setdefault(family, []).append((name, int(ooms), float(over), float(ratio), float(safe)))
print("| family | runs | OOMs (sum / max) | s over SLO (max / mean) | good / oracle (min / mean) | step-safe bound (mean; runs under 0.90) | missing 0 OOMs or 0.90 |")
print("|---|---|---|---|---|---|---|")
for family, runs in families.items():
    n = len(runs)
    misses = ", ".join(f"{r[0]} {r[1]} / {r[3]:.3f}" for r in runs if r[1] or r[3] < 0.9) or "-"
    print(f"| {family} | {n} | {sum(r[1] for r in runs)} / {max(r[1] for r in runs)} | {max(r[2] for r in runs):.1f} / {sum(r[2] for r in runs) / n:.1f}"
          f" | {min(r[3] for r in runs):.3f} / {sum(r[3] for r in runs) / n:.3f} | {sum(r[4] for r in runs) / n:.3f}; {sum(r[4] < 0.9 for r in runs)}"
          f" | {misses} |")
'
