#!/usr/bin/env bash
# What RD-NAS's teacher costs in training time (issue 21): the same run (the config's RD-NAS,
# seed, batches) with the analytic FLOPs teacher and with a network-proxy teacher scored
# beside training (rdnas.teacher=naswot), side by side on this machine, interleaved A B A B so
# drift hits both. Each run starts from an empty proxy cache, as a first seed does, and stops
# after STEPS steps (the program build is in both; no evaluation: train.eval_images=0).
#   bash benchmarks/teacher_cost.sh [STEPS] [REPEATS] [TEACHER]     (default 100 2 naswot)
# Prints one JSON line per run (wall time, and CPU time of the run and every process it
# waited for: the proxy workers' too) and the ratios of the summed wall and CPU times
# (proxy / FLOPs): the wall ratio is what training waits, the CPU ratio what the cores pay.
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
declare -A wall=([flops]=0 [$TEACHER]=0) cpu=([flops]=0 [$TEACHER]=0)
# RUSAGE_CHILDREN of the wrapper holds the training process and the workers it reaped.
timed() {
  python -c 'import json, resource, subprocess, sys, time
t = time.time()
with open(sys.argv[1], "w") as log:
    rc = subprocess.call(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": rc, "wall_s": round(time.time() - t, 1), "cpu_s": round(u.ru_utime + u.ru_stime, 1)}))' "$@"
}
field() { python -c "import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
for ((r = 0; r < REPEATS; r++)); do
  for t in flops "$TEACHER"; do
    d=$tmp/$t.$r
    out=$(timed $d.log python tools/train.py --set train.strategy=rdnas --set rdnas.teacher=$t --set train.out_dir=$d/run \
      --set proxies.cache_dir=$d/cache --set train.eval_images=0 --max-steps "$STEPS")
    [[ $(field "$out" rc) == 0 ]] || { tail -5 $d.log; exit 1; }
    w=$(field "$out" wall_s) c=$(field "$out" cpu_s)
    wall[$t]=$(python -c "print(${wall[$t]} + $w)") cpu[$t]=$(python -c "print(${cpu[$t]} + $c)")
    echo "{\"teacher\": \"$t\", \"repeat\": $r, \"steps\": $STEPS, \"wall_s\": $w, \"cpu_s\": $c}"
  done
done
python -c "print('{\"ratio_${TEACHER}_over_flops\": %.2f, \"cpu_ratio_${TEACHER}_over_flops\": %.2f}' % (${wall[$TEACHER]} / ${wall[flops]}, ${cpu[$TEACHER]} / ${cpu[flops]}))"
