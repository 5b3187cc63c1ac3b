#!/usr/bin/env bash
# NAR distilled from the supernet (issue 7): does a predictor trained on the supernet's scores
# keep the supernet's ranking? A seeded sample of K candidates (GT codes left out) labelled by
# the submission trains NAR; NAR then scores all candidates, checked against the supernet's own
# scores and against the GT, next to the supernet on the same GT codes. JSON lines on stdout.
#   [OUT=DIR] [EPOCHS=N] bash benchmarks/nar_distill.sh [SUBMISSION] [K] [GT]
# Defaults: submit/main.json, 3000, the fashion_mnist GT. Needs TRACK1_CANDIDATES (or
# the config key candidates) for the candidate file the submission was scored on.
set -euo pipefail
cd "$(dirname "$0")/.."
SUB=${1:-submit/main.json}
K=${2:-3000}
GT=${3:-$(python tools/gt.py path)}   # default: the config's train.gt
O=${OUT:-output/nar_distill}
mkdir -p $O
python - "$SUB" "$K" "$GT" "$O/labels.json" <<'PY'
import sys
import numpy as np
from track1.candidates import read_official, write_submission
from track1.config import load_config
from track1.profile import Profile
sub_path, k, gt_path, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
space = Profile.from_config(load_config(None)).space
sub = read_official(sub_path, space, need_acc=True, what="submission")
gt_codes = {space.canonical(v["arch"]) for v in read_official(gt_path, space, need_acc=True, what="GT").values()}
keys = [key for key, v in sub.items() if space.canonical(v["arch"]) not in gt_codes]
if k > len(keys):
    sys.exit(f"error: K={k} exceeds the {len(keys)} non-GT entries of '{sub_path}'")
pick = sorted(np.random.default_rng(0).choice(len(keys), k, replace=False))
keys = [keys[i] for i in pick]
write_submission(out, [(key, sub[key]["arch"]) for key in keys], [sub[key]["acc"] for key in keys])
print(f"{k} of {len(sub)} entries (GT codes left out) -> {out}", file=sys.stderr)
PY
python tools/nar.py train --labels $O/labels.json --out $O/model --set nar.epochs=${EPOCHS:-20} >&2
python tools/nar.py predict --model $O/model --out $O/nar.json >&2
row() { local what=$1; shift; python tools/check.py "$@" --json | python -c "import json,sys; d=json.load(sys.stdin); d['what']='$what'; print(json.dumps(d))"; }
# (no bootstrap over 45,000 codes: its interval would be tiny and it costs minutes)
row "nar vs supernet (all candidates)" $O/nar.json --gt "$SUB" --boot 0
row "nar vs gt" $O/nar.json --gt "$GT" --subset
row "supernet vs gt" "$SUB" --gt "$GT" --subset
