#!/usr/bin/env bash
# The README's main job on the embedded default (configs/main.yaml: fashion_mnist): set up
# what is missing, train the supernet, score the candidates, check the ranking against the
# shipped ground truth.
#   bash tools/main.sh [CONFIG] [key=value ...]
#     CONFIG: a name in configs/ or a path (default main); key=value overrides go to every step
#     (training, scoring and the check read the keys they use), e.g.
#     bash tools/main.sh imagenet data.root=/data/imagenet
# $SUBMISSION moves the submission (default submit/main.json; submit/CONFIG.json for another
# CONFIG). A config without a ground truth (train.gt null, as imagenet's) skips the check and
# says so. The candidate file comes
# from $TRACK1_CANDIDATES, config `candidates` or the usual places (README); without one,
# predict.py says so and scores the GT's codes and a seeded sample of the space instead.
set -euo pipefail
cd "$(dirname "$0")/.."
cfg=main
if [[ $# -gt 0 && $1 != *=* && $1 != --* ]]; then cfg=$1; shift; fi
name=$(basename "$cfg" .yaml)
SUB=${SUBMISSION:-submit/$name.json}
sets=()
for a in "$@"; do
  [[ $a == *=* ]] || { echo "error: tools/main.sh argument '$a': expected key=value (CONFIG goes first)" >&2; exit 2; }
  sets+=(--set "$a")
done
bash tools/setup.sh
PY=${PYTHON:-python3}
t0=$(date +%s)
echo "== 1/3 supernet training (bash tools/train.sh)"
bash tools/train.sh "$cfg" "$@" --resume
t1=$(date +%s)
echo "== 2/3 scoring the candidates (python tools/predict.py)"
"$PY" tools/predict.py --config "$cfg" "${sets[@]}" --out "$SUB"
t2=$(date +%s)
echo "== 3/3 leaderboard check against the config's ground truth (train.gt)"
if "$PY" tools/gt.py path --config "$cfg" "${sets[@]}" > /dev/null 2>&1; then
  "$PY" tools/check.py "$SUB" --config "$cfg" "${sets[@]}" --subset --plot "${SUB%.json}_check.png"
else
  echo "config '$cfg' names no ground truth (train.gt): check skipped; run python tools/check.py $SUB --gt GT.json"
fi
echo "main job: training $((t1 - t0)) s, scoring $((t2 - t1)) s, total $(( $(date +%s) - t0 )) s"
