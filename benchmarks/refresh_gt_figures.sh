#!/usr/bin/env bash
# Redo every figure measured against the GT benchmark, for the GT of the moment (the config's
# train.gt; its folder holds runs.jsonl and manifest.json, whose "metric" is the GT's value).
# Run it as runs land (the GT build is resumable and slow); each output file carries the
# GT's folder name and size N (TAG = e.g. fashion_mnist_v2_n100; v1's files keep their old
# names: gt_summary_n100.txt and so on).
#   bash benchmarks/refresh_gt_figures.sh [SUBMISSION]      (default: submit/main.json)
# Writes, in benchmarks/results/: gt_summary_TAG.txt, check_main_TAG.json,
# proxies_vs_TAG.jsonl, nar_vs_TAG.jsonl, score_settings_TAG.jsonl, rank_strategies_TAG.md
# (the last only if benchmarks/rank_strategies.sh has kept scores). Heavy parts: the score
# settings (two BN modes x six image counts on the GT codes) and NAR's k-fold, ~20 minutes
# on 100 codes; SETTINGS=0 skips the score settings (their file of the last refresh stays).
set -euo pipefail
cd "$(dirname "$0")/.."
SUB=${1:-submit/main.json}
R=benchmarks/results
GT=$(python tools/gt.py path)
d=$(dirname "$GT")
metric=$(python -c "import json, sys; print(json.load(open(sys.argv[1])).get('metric', 'acc'))" "$d/manifest.json")
python tools/gt.py to-gt $d/runs.jsonl --out "$GT" --metric "$metric"
N=$(python -c "import json, sys; print(len(json.load(open(sys.argv[1]))))" "$GT")
T=$(basename "$d")_n$N
echo "GT: $GT ($N codes, metric $metric)"
python tools/gt.py summary $d/runs.jsonl | tee $R/gt_summary_$T.txt
if [[ -f $SUB ]]; then
  python tools/check.py "$SUB" --gt "$GT" --subset --json | tee $R/check_main_$T.json
  bash benchmarks/nar_vs_gt.sh "$SUB" "$GT" > $R/nar_vs_$T.jsonl
  if [[ ${SETTINGS:-1} != 0 ]]; then
    python benchmarks/score_settings.py --gt "$GT" --sample 0 --images 32 64 128 256 512 1024 --bn batch recal \
      --out $R/score_settings_$T.jsonl
  else
    echo "SETTINGS=0: the score settings are skipped"
  fi
else
  echo "no submission '$SUB': the check, NAR's k-fold and the score settings are skipped (run tools/main.sh)"
fi
bash benchmarks/proxies_vs_gt.sh "$GT" > $R/proxies_vs_$T.jsonl
if compgen -G "$R/rank/*.json" > /dev/null; then
  python benchmarks/rank_report.py --gt "$GT" --blend flops --out $R/rank_strategies_$T.jsonl \
    --ranking $R/ranking.json | tee $R/rank_strategies_$T.md
fi
