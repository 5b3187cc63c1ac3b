#!/usr/bin/env bash
# What capping oneDNN at AVX2 costs on an AVX-512 CPU (the cap makes runs bit-identical to an
# AVX2 machine's: BENCHMARKS.md, "Runs on several machines"). The same stand-alone run (a
# mid-size code, seed 0, IMAGES training images, 1 epoch, one thread) by default and with
# ONEDNN_MAX_CPU_ISA=AVX2 (each arm without any other oneDNN/MKL setting of the caller's:
# benchmarks/isa_arm.sh),
# interleaved A B A B so drift hits both; each run's training throughput (`train_img_per_s`,
# wall clock over the training steps, the first step's kernel setup included: 64 steps at the
# default) and CPU time (`cpu_s`, the whole run). Pause background jobs first.
#   bash benchmarks/isa_cost.sh [IMAGES] [REPEATS]       (default 8192 2)
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGES=${1:-8192}
REPEATS=${2:-2}
((REPEATS >= 1)) || { echo "error: REPEATS must be at least 1, got '$REPEATS'" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
code=1524233333331333311100000012425232000000004525000000
sets=(--set standalone.train_images=$IMAGES --set standalone.epochs=1 --set standalone.warmup_epochs=0.1
      --set standalone.eval_images=1000 --set standalone.average_from=0)
for ((r = 0; r < REPEATS; r++)); do
  for setting in default ONEDNN_MAX_CPU_ISA=AVX2; do
    f=$tmp/$setting.$r.jsonl
    bash benchmarks/isa_arm.sh "$setting" "$f" "${sets[@]}" --codes $code --seeds 0
    python -c "import json, sys; r = json.loads(open(sys.argv[1]).readline()); print(json.dumps({'setting': sys.argv[2], 'repeat': int(sys.argv[3]), 'train_img_per_s': r['train_img_per_s'], 'cpu_s': r['cpu_s'], 'wall_s': r['wall_s'], 'cpu': r['cpu']}))" "$f" "$setting" "$r"
  done
done | tee "$tmp/all.jsonl"
python - "$tmp/all.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
mean = lambda s, f: sum(r[f] for r in rows if r["setting"] == s) / sum(r["setting"] == s for r in rows)
cap, base = "ONEDNN_MAX_CPU_ISA=AVX2", "default"
assert len({r["cpu"] for r in rows}) == 2, "the capped arm's cpu should name its cap"
print(json.dumps({"throughput_ratio_capped_over_default": round(mean(cap, "train_img_per_s") / mean(base, "train_img_per_s"), 3),
                  "cpu_time_ratio_capped_over_default": round(mean(cap, "cpu_s") / mean(base, "cpu_s"), 3)}))
PY
