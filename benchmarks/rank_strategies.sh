#!/usr/bin/env bash
# The ranking benchmark (issue 5): every strategy (and the RD-NAS ablations) trained with the
# same budget and seeds, its supernet scoring the GT benchmark's codes, checked against the GT.
#   bash benchmarks/rank_strategies.sh [SEEDS...]        (default seeds: 0 1)
# Each training is resumable (--resume); results land in benchmarks/results/rank_strategies.jsonl.
# Budget: the default config's (about 15 minutes per run on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
export GLOG_minloglevel=2
GT=benchmarks/gt/fashion_mnist/gt.json
RES=benchmarks/results/rank_strategies.jsonl
mkdir -p benchmarks/results
seeds=("${@:-0 1}")
declare -A variants=(
  [spos]="train.strategy=spos"
  [sandwich]="train.strategy=sandwich"
  [progressive]="train.strategy=progressive"
  [rdnas]="train.strategy=rdnas"
  [rdnas_nosampler]="train.strategy=rdnas rdnas.sampler=none"
  [rdnas_hamming]="train.strategy=rdnas rdnas.sampler=hamming"
  [rdnas_margin0]="train.strategy=rdnas rdnas.margin=0.0"
)
for seed in ${seeds[@]}; do
  for name in spos sandwich progressive rdnas rdnas_nosampler rdnas_hamming rdnas_margin0; do
    out=output/rank/$name-s$seed
    # shellcheck disable=SC2086
    bash tools/train.sh fashion_mnist seed=$seed train.out_dir=$out ${variants[$name]} --resume
    # The GT's ~100 codes afford 1,024 scored images: the strategies are compared without
    # the scorer's image noise (BENCHMARKS.md, score settings).
    python tools/predict.py --checkpoint $out --candidates $GT --out $out/gt_scores.json --set score.images=${GT_IMAGES:-1024}
    python tools/check.py $out/gt_scores.json --gt $GT --json --boot 0 |
      python -c "import json,sys; r=json.load(sys.stdin); r.update(variant='$name', seed=$seed); print(json.dumps(r))" >> $RES
  done
done
for p in flops params synflow zen naswot; do
  python tools/proxies.py --proxy $p --candidates $GT --out output/rank/proxy-$p.json
  python tools/check.py output/rank/proxy-$p.json --gt $GT --json --boot 0 |
    python -c "import json,sys; r=json.load(sys.stdin); r.update(variant='proxy:$p'); print(json.dumps(r))" >> $RES
done
echo "results -> $RES"
