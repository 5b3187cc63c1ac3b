#!/usr/bin/env bash
# Build ground truth v2 (issue 17): the same 100 codes as v1 (benchmarks/gt/fashion_mnist/
# selection.json) under the protocol variant the study chose (VARIANT, default v1; the
# variants are in gt_variants.sh). 40 codes get two seeds: the study's 20 (its runs of that
# variant are runs of this benchmark: same protocol hash, merged in, never rerun) and the 20
# that had a second seed in v1, so both GTs are measured on the same repeated codes. Order: the 20 new
# repeated codes first (seeds 0 and 1, with per-image predictions), then the other 60 with
# seed 0 (and, for the cheap v1, with seed 1 after that). Resumable: rerun after a kill;
# finished (code, seed) pairs are skipped.
#   bash benchmarks/build_gt_v2.sh                 (VARIANT=v3 bash ... for another variant)
#   OUT=DIR bash benchmarks/build_gt_v2.sh    (results elsewhere: a build run from a frozen
#                                              worktree into the checkout being worked on)
set -euo pipefail
cd "$(dirname "$0")/.."
v1=benchmarks/gt/fashion_mnist
out=${OUT:-benchmarks/gt/fashion_mnist_v2}
mkdir -p "$out"
source benchmarks/gt_variants.sh
variant=${VARIANT:-v1}   # the study's choice (BENCHMARKS.md, ground truth v2)
overrides=$(gt_variant "$variant")      # an assignment: an unknown variant stops the script (set -e)
protocol=()
for o in $overrides; do protocol+=(--set "$o"); done
python tools/gt.py export $v1/selection.json --which single --out "$out/codes_single_all.json"
# The v1 build gave its second seed to the first 20 of the single codes, in selection order.
python - "$out" <<'EOF'
import json, sys
out = sys.argv[1]
single = json.load(open(f"{out}/codes_single_all.json"))
keys = list(single)
json.dump({k: single[k] for k in keys[:20]}, open(f"{out}/codes_repeat2.json", "w"), indent=1)
json.dump({k: single[k] for k in keys[20:]}, open(f"{out}/codes_rest.json", "w"), indent=1)
EOF
rm "$out/codes_single_all.json"
# The study's runs of the variant, merged by (code, seed) into the build's runs file (whole file rewritten
# and renamed: a kill leaves the old file or the new one, never half a line).
python - "$out" "$variant" <<'EOF'
import json, os, sys
out, variant = sys.argv[1:3]
study, runs = f"{out}/study/{variant}.jsonl", f"{out}/runs.jsonl"
old = open(runs).readlines() if os.path.exists(runs) else []
have = {(r["arch"], r["seed"]) for r in map(json.loads, old)}
new = [line for line in open(study) if (json.loads(line)["arch"], json.loads(line)["seed"]) not in have]
if new:
    with open(runs + ".tmp", "w") as f:
        f.writelines(old + new)
        f.flush()
        os.fsync(f.fileno())
    os.replace(runs + ".tmp", runs)
print(f"build_gt_v2: {len(new)} study runs merged into {runs}")
EOF
python tools/train_standalone.py --codes "$out/codes_repeat2.json" --seeds 0 1 --order code --predictions \
  --jobs "${JOBS:-2}" --out "$out/runs.jsonl" "${protocol[@]}"
python tools/train_standalone.py --codes "$out/codes_rest.json" --seeds 0 \
  --jobs "${JOBS:-2}" --out "$out/runs.jsonl" "${protocol[@]}"
# A cheap protocol (v1: 150 s a run here) affords a second seed for every code: each GT
# value becomes a mean of two runs (reliability 2r / (1 + r)).
if [[ $variant == v1 ]]; then
  python tools/train_standalone.py --codes "$out/codes_rest.json" --seeds 1 \
    --jobs "${JOBS:-2}" --out "$out/runs.jsonl" "${protocol[@]}"
fi
python tools/gt.py summary "$out/runs.jsonl"
