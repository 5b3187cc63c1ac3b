#!/usr/bin/env bash
# NAR's k-fold evaluation on the GT benchmark (issue 7), next to the supernet and the
# zero-cost proxies on the same held-out codes. One JSON line per training fraction.
#   bash benchmarks/nar_vs_gt.sh [SUBMISSION] [GT]
# SUBMISSION: a supernet submission covering the GT's codes (default: the main job's).
set -euo pipefail
cd "$(dirname "$0")/.."
SUB=${1:-submit/main.json}
GT=${2:-$(python tools/gt.py path)}   # default: the config's train.gt
bash benchmarks/proxies_vs_gt.sh "$GT" > /dev/null
cmp=(supernet=$SUB)
for p in $(python tools/proxies.py --list | awk '{print $1}'); do cmp+=("$p=output/proxies_vs_gt/$p.json"); done
python tools/nar.py cv --labels "$GT" --folds ${FOLDS:-4} --compare "${cmp[@]}"
