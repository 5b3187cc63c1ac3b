#!/usr/bin/env bash
# Ground truth v2, the reliability study (issue 17): protocol variants on the same 20 codes
# (v1's repeated subset, spread over MACs; their v1 values are known) x seeds 0 and 1, code
# by code, every run recording both the last iterate and the tail weight average (plain and
# flip-averaged test metrics) and its per-image predictions. Resumable: rerun to continue.
#   bash benchmarks/gt_study.sh [VARIANT ...]      (default: v3 v1 v2, in that order)
#   python tools/gt.py summary benchmarks/gt/fashion_mnist_v2/study/VARIANT.jsonl
# OUT=DIR writes the results elsewhere (a build run from a frozen worktree of the code into
# the checkout being worked on: the runner's workers restart every 8 runs and would import
# whatever code the working tree holds at that moment).
set -euo pipefail
cd "$(dirname "$0")/.."
codes=benchmarks/gt/fashion_mnist/codes_repeat.json
out=${OUT:-benchmarks/gt/fashion_mnist_v2/study}
mkdir -p "$out"
source benchmarks/gt_variants.sh
for name in "${@:-v3 v1 v2}"; do
  for v in $name; do
    sets=()
    overrides=$(gt_variant "$v")        # an assignment: an unknown variant stops the script (set -e)
    for o in $overrides; do sets+=(--set "$o"); done
    python tools/train_standalone.py --codes "$codes" --seeds 0 1 --order code --predictions \
      --jobs "${JOBS:-2}" --out "$out/$v.jsonl" "${sets[@]}"
  done
done
