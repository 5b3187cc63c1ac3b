#!/usr/bin/env bash
# Extend ground truth v2 with more codes (issue 17). On its 100 codes x 2 seeds the per-run
# ICC came out at 0.26 and the GT resolves only a large true tau difference between two
# rankers; at equal cost, new codes resolve more than more seeds of the same codes
# (BENCHMARKS.md, "Ground truth v2": the power figures). N new codes (default 300): a seeded
# stratified selection from the official candidates (gt.py select, seed 1), none of v2's
# codes, taken in MAC-spread order (a build stopped part-way still spans the range), seed 0
# of every code first, then seed 1 (--order seed; for a fixed number of runs one seed of
# more codes buys more power to compare rankers than two seeds of fewer: per-run ICC r gives
# n * r against (n / 2) * 2r / (1 + r); v2's 100 codes and the first 28 of these, built
# code by code until 2026-12-03, hold the repeated pairs), into v2's own runs.jsonl under
# v2's protocol (the config's default). Resumable: rerun after a kill.
# Then: bash benchmarks/refresh_gt_figures.sh (rewrites gt.json from the runs, redoes the figures).
#   N=300 bash benchmarks/extend_gt_v2.sh
set -euo pipefail
cd "$(dirname "$0")/.."
d=benchmarks/gt/fashion_mnist_v2
n=${N:-300}
if [[ ! -f $d/codes_ext.json ]]; then
  python tools/gt.py select --n $((n + 100)) --repeats 0 --seed 1 --out output/gt_ext_selection.json
  python tools/gt.py export output/gt_ext_selection.json --which all --out output/gt_ext_all.json
  python - "$d" "$n" <<'EOF'
import json, sys
from track1.io_utils import atomic_write_json
d, n = sys.argv[1], int(sys.argv[2])
have = {json.loads(line)["arch"] for line in open(f"{d}/runs.jsonl")}
cand = json.load(open("output/gt_ext_all.json"))
new = {k: {"arch": v["arch"]} for k, v in cand.items() if v["arch"] not in have}
keep = dict(list(new.items())[:n])
if len(keep) < n:
    raise SystemExit(f"extend_gt_v2: only {len(keep)} new codes in the selection, asked for {n}")
atomic_write_json(f"{d}/codes_ext.json", keep, indent=1)
print(f"extend_gt_v2: {len(keep)} new codes -> {d}/codes_ext.json")
EOF
fi
python tools/train_standalone.py --codes "$d/codes_ext.json" --seeds 0 1 --order seed \
  --jobs "${JOBS:-2}" --out "$d/runs.jsonl"
python tools/gt.py summary "$d/runs.jsonl"
