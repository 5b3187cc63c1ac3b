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
variant() {  # name -> overrides
  case $1 in
    v3) echo standalone.augment=true standalone.epochs=8 standalone.average_from=0.6 ;;   # the lead (pilot)
    v1) echo standalone.average_from=0.6 ;;                                                # v1 + averaging
    v2) echo standalone.epochs=5.46 standalone.average_from=0.6 ;;                         # 2x steps, no aug
    *) echo "gt_study.sh: unknown variant '$1' (v3, v1, v2)" >&2; return 2 ;;
  esac
}
for name in "${@:-v3 v1 v2}"; do
  for v in $name; do
    sets=()
    for o in $(variant "$v"); do sets+=(--set "$o"); done
    python tools/train_standalone.py --codes "$codes" --seeds 0 1 --order code --predictions \
      --jobs "${JOBS:-2}" --out "$out/$v.jsonl" "${sets[@]}"
  done
done
