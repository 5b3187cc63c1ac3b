#!/usr/bin/env bash
# The README's main job on the embedded default (fashion_mnist): set up what is missing,
# then run the pipeline that exists so far. Extra arguments go to every config-reading step.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export GLOG_minloglevel=2
PY=${PYTHON:-python3}
echo "== search space: the largest and smallest codes of the default profile"
"$PY" tools/arch.py 1558511111111111111111111111111111111111111111111111 1222233333000000333300000055550000000000007777000000
echo "== stand-alone training of the largest code (a quick protocol: 0.3 epochs)"
"$PY" tools/train_standalone.py --codes 1558511111111111111111111111111111111111111111111111 \
  --out output/main_smoke.jsonl --set standalone.epochs=0.3 --set standalone.warmup_epochs=0.05 "$@"
