#!/usr/bin/env bash
# The README's main job on the embedded default (fashion_mnist): set up what is missing,
# train the supernet, score the candidates, check the ranking against the shipped ground truth.
#   bash tools/main.sh [key=value ...]     (overrides go to training; score.* ones go to
#                                           scoring too, which otherwise reads the trained
#                                           checkpoint's config; train.out_dir=DIR to both)
# $SUBMISSION moves the submission (default submit/main.json).
# The candidate file comes from $TRACK1_CANDIDATES (or candidates: in the config); without
# it predict.py says so and scores a seeded sample of the space in the same format.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export GLOG_minloglevel=2
PY=${PYTHON:-python3}
OUT=output/main
# train.out_dir=DIR moves the whole job: the scorer must read the supernet just trained.
for a in "$@"; do [[ "$a" == train.out_dir=* ]] && OUT=${a#train.out_dir=}; done
SUB=${SUBMISSION:-submit/main.json}
GT=benchmarks/gt/fashion_mnist/gt.json
# The workplace keeps the official file beside the repo (../shared/data); elsewhere set the variable.
if [ -z "${TRACK1_CANDIDATES:-}" ] && [ -f ../shared/data/CVPR_2022_NAS_Track1_test.json ]; then
  export TRACK1_CANDIDATES="$(cd ../shared/data && pwd)/CVPR_2022_NAS_Track1_test.json"
  echo "candidates: $TRACK1_CANDIDATES"
fi
t0=$(date +%s)
echo "== 1/3 supernet training (bash tools/train.sh)"
bash tools/train.sh fashion_mnist train.out_dir="$OUT" "$@" --resume
t1=$(date +%s)
echo "== 2/3 scoring the candidates (python tools/predict.py)"
# 32 images: about 6 minutes for 45,000 candidates here; more rank more stably (BENCHMARKS.md).
# A finished training run is not redone, so score.* arguments must reach the scorer itself.
score_sets=()
for a in "$@"; do [[ "$a" == score.* ]] && score_sets+=(--set "$a"); done
[[ " $* " == *" score.images="* ]] || score_sets+=(--set "score.images=${SCORE_IMAGES:-32}")
"$PY" tools/predict.py --checkpoint "$OUT" --out "$SUB" "${score_sets[@]}"
t2=$(date +%s)
echo "== 3/3 leaderboard check against the shipped ground truth ($GT)"
"$PY" tools/check.py "$SUB" --gt $GT --subset --plot "${SUB%.json}_check.png"
echo "main job: training $((t1 - t0)) s, scoring $((t2 - t1)) s, total $(( $(date +%s) - t0 )) s"
