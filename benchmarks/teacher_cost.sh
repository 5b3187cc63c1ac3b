#!/usr/bin/env bash
# What RD-NAS's teacher costs in training time (issue 21): the same run (the config's RD-NAS,
# seed, batches) with the analytic FLOPs teacher and with a network-proxy teacher scored
# beside training (rdnas.teacher=naswot), side by side on this machine, interleaved A B A B so
# drift hits both. Each run starts from an empty proxy cache, as a first seed does, and stops
# after STEPS steps (the program build is in both; no evaluation: train.eval_images=0).
#   bash benchmarks/teacher_cost.sh [STEPS] [REPEATS] [TEACHER]     (default 100 2 naswot)
# Prints one JSON line per run and the ratio of the mean wall times (proxy / FLOPs).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-100}
REPEATS=${2:-2}
TEACHER=${3:-naswot}
# FLOPs is the baseline each run is compared with: as TEACHER it would be timed against itself.
[[ -n $TEACHER && $TEACHER != flops ]] || { echo "error: TEACHER '$TEACHER': give a proxy teacher other than the flops baseline (e.g. naswot, zen)" >&2; exit 2; }
((REPEATS >= 1)) || { echo "error: REPEATS must be at least 1, got '$REPEATS'" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
declare -A total=([flops]=0 [$TEACHER]=0)
for ((r = 0; r < REPEATS; r++)); do
  for t in flops "$TEACHER"; do
    d=$tmp/$t.$r
    t0=$(date +%s.%N)
    python tools/train.py --set train.strategy=rdnas --set rdnas.teacher=$t --set train.out_dir=$d/run \
      --set proxies.cache_dir=$d/cache --set train.eval_images=0 --max-steps "$STEPS" > $d.log 2>&1 || { tail -5 $d.log; exit 1; }
    t1=$(date +%s.%N)
    wall=$(python -c "print(round($t1 - $t0, 1))")
    total[$t]=$(python -c "print(${total[$t]} + $wall)")
    echo "{\"teacher\": \"$t\", \"repeat\": $r, \"steps\": $STEPS, \"wall_s\": $wall}"
  done
done
python -c "print('{\"ratio_${TEACHER}_over_flops\": %.2f}' % (${total[$TEACHER]} / ${total[flops]}))"
