#!/usr/bin/env bash
# The README's main job on the embedded default (configs/main.yaml: fashion_mnist): set up
# what is missing, train the supernet, score the candidates, check the ranking against the
# shipped ground truth.
#   bash tools/main.sh [key=value ...]     (config overrides, given to every step: training,
#                                           scoring and the check read the keys they use)
# $SUBMISSION moves the submission (default submit/main.json). The candidate file comes
# from $TRACK1_CANDIDATES, config `candidates` or the usual places (README); without one,
# predict.py says so and scores the GT's codes and a seeded sample of the space instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
PY=${PYTHON:-python3}
SUB=${SUBMISSION:-submit/main.json}
sets=()
for a in "$@"; do sets+=(--set "$a"); done
t0=$(date +%s)
echo "== 1/3 supernet training (bash tools/train.sh)"
bash tools/train.sh main "$@" --resume
t1=$(date +%s)
echo "== 2/3 scoring the candidates (python tools/predict.py)"
"$PY" tools/predict.py --config main "${sets[@]}" --out "$SUB"
t2=$(date +%s)
echo "== 3/3 leaderboard check against the config's ground truth (train.gt)"
"$PY" tools/check.py "$SUB" --config main "${sets[@]}" --subset --plot "${SUB%.json}_check.png"
echo "main job: training $((t1 - t0)) s, scoring $((t2 - t1)) s, total $(( $(date +%s) - t0 )) s"
