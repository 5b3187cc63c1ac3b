#!/usr/bin/env bash
# The test on held-out codes (issue 21), as pre-registered in BENCHMARKS.md ("The test on
# held-out codes") before any ranker met those codes: every kept ranking of
# benchmarks/rank_strategies.sh checked on the extension's codes alone (codes_ext.json, which
# chose nothing), against v2's gt.json rebuilt here from all of its runs (each code the mean of
# its seeds, as benchmarks/refresh_gt_figures.sh rebuilds it), with the comparisons named
# there printed as paired intervals, the primary one first.
# It refuses to run before seed 0 of every extension code has landed (the build's --order seed),
# and without the primary comparison's scores. A registered ranker counts as kept when its
# score files (both seeds of a supernet, as registered; a proxy's one) hold every extension code;
# a registered comparison without them is named in the report, never dropped silently.
#   bash benchmarks/heldout_test.sh        -> benchmarks/results/heldout_rN.md (+ ranking_heldout_rN.json),
#                                             N the number of runs in runs.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
GT=$(python tools/gt.py path)
d=$(dirname "$GT")
R=benchmarks/results
n=$(python - "$d" <<'PY'
import json, sys
from track1.gt.summary import load_runs
d = sys.argv[1]
ext = {v["arch"] for v in json.load(open(f"{d}/codes_ext.json")).values()}
done = {r["arch"] for r in load_runs(f"{d}/runs.jsonl") if r["arch"] in ext and r["seed"] == 0 and "diverged" not in r}
if len(done) < len(ext):
    print(f"held-out test: {len(done)} of the {len(ext)} extension codes have their seed-0 run; the pre-registered "
          "test waits for all of them (benchmarks/extend_gt_v2.sh)", file=sys.stderr)
    sys.exit(2)
print(len(done))
PY
)
metric=$(python -c "import json, sys; print(json.load(open(sys.argv[1])).get('metric', 'acc'))" "$d/manifest.json")
python tools/gt.py to-gt "$d/runs.jsonl" --out "$GT" --metric "$metric"
runs=$(wc -l < "$d/runs.jsonl")
# The registered comparisons in their order (the entries added later last).
registered=(rdnas_e3:proxy-flops rdnas_e3:spos spos+flops:proxy-flops proxy-naswot:proxy-flops rdnas_e3:rdnas
            spos_e6:spos rdnas_init:rdnas rdnas_init:proxy-flops
            rdnas_fewshot:rdnas rdnas_fewshot:proxy-flops rdnas_e6:rdnas_e3 rdnas_e6:proxy-flops
            rdnas_e6:rdnas    # for the main job's default rule (with rdnas_e3, _init, _fewshot minus rdnas above)
            rdnas_fewshot_cal:rdnas rdnas_fewshot_cal:rdnas_fewshot)
covers() { [[ -f $1 ]] && python benchmarks/rank_codes.py covers "$1" "$d/codes_ext.json" 2> /dev/null; }
declare -A known=()
kept() {
  local n=${1%+flops}
  if [[ -z ${known[$n]:-} ]]; then
    if [[ $n == proxy-* ]]; then covers "$R/rank/$n.json" && known[$n]=1 || known[$n]=0
    else covers "$R/rank/$n-s0.json" && covers "$R/rank/$n-s1.json" && known[$n]=1 || known[$n]=0; fi
  fi
  [[ ${known[$n]} == 1 ]]
}
pairs=() left=()
for p in "${registered[@]}"; do
  if kept "${p%%:*}" && kept "${p##*:}"; then pairs+=("$p"); else left+=("$p"); fi
done
if [[ ${pairs[0]:-} != "${registered[0]}" ]]; then
  echo "held-out test: the primary comparison ${registered[0]} lacks kept scores of every extension code (seeds 0 and 1)" >&2
  exit 2
fi
{
  python benchmarks/rank_report.py --gt "$GT" --codes "$d/codes_ext.json" --blend flops --boot 2000 \
    --base proxy-flops --ranking $R/ranking_heldout_r$runs.json --pairs "${pairs[@]}"
  for p in "${left[@]}"; do echo "registered comparison $p: not run (its scores do not cover every extension code on both seeds)"; done
  echo
  echo "--base spos (the registration's second base):"
  python benchmarks/rank_report.py --gt "$GT" --codes "$d/codes_ext.json" --blend flops --boot 2000 --base spos
} | tee $R/heldout_r$runs.md
echo "held-out test on $n extension codes ($runs runs in $d/runs.jsonl): $R/heldout_r$runs.md"
