#!/usr/bin/env bash
# Redo every figure measured against the GT benchmark, for the GT of the moment. Run it as
# runs land (the GT build is resumable and slow); each output file carries the GT's size N.
#   bash benchmarks/refresh_gt_figures.sh [SUBMISSION]      (default: submit/main.json)
# Writes, in benchmarks/results/: gt_summary_nN.txt, check_main_nN.json,
# proxies_vs_gtN.jsonl, nar_vs_gtN.jsonl, score_settings_gtN.jsonl, rank_strategies_gtN.md
# (the last only if benchmarks/rank_strategies.sh has kept scores). Heavy parts: the score
# settings (two BN modes x six image counts on the GT codes) and NAR's k-fold, ~20 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
SUB=${1:-submit/main.json}
d=benchmarks/gt/fashion_mnist
R=benchmarks/results
python tools/gt.py to-gt $d/runs.jsonl --out $d/gt.json
N=$(python -c "import json; print(len(json.load(open('$d/gt.json'))))")
echo "GT: $N codes"
python tools/gt.py summary $d/runs.jsonl | tee $R/gt_summary_n$N.txt
if [[ -f $SUB ]]; then
  python tools/check.py "$SUB" --gt $d/gt.json --subset --json | tee $R/check_main_n$N.json
  bash benchmarks/nar_vs_gt.sh "$SUB" > $R/nar_vs_gt$N.jsonl
  python benchmarks/score_settings.py --sample 0 --images 32 64 128 256 512 1024 --bn batch recal \
    --out $R/score_settings_gt$N.jsonl
else
  echo "no submission '$SUB': the check, NAR's k-fold and the score settings are skipped (run tools/main.sh)"
fi
bash benchmarks/proxies_vs_gt.sh > $R/proxies_vs_gt$N.jsonl
if compgen -G "$R/rank/*.json" > /dev/null; then
  python benchmarks/rank_report.py --blend flops --out $R/rank_strategies_gt$N.jsonl | tee $R/rank_strategies_gt$N.md
fi
