#!/usr/bin/env bash
# Which CPU feature decides a stand-alone result (BENCHMARKS.md, "Runs on several machines").
# One small stand-alone run (the largest code, seed 0, 512 images, 2
# epochs, one thread) under each setting below, in a fresh process each; one JSON line per
# run is appended to benchmarks/results/isa_probe.jsonl with the machine (`cpu`) and the
# setting. Run it on each machine you compare: lines with equal `acc`, `test_loss` and
# `train_loss`, the same `code_version` and `paddle` and different `cpu` agree to the last digit
# across those machines. Every arm starts without any oneDNN/MKL setting of the caller's
# (benchmarks/isa_arm.sh runs it).
#   default                  what every run does
#   MKL_CBWR=AVX2            MKL's conditional numerical reproducibility at AVX2
#   ONEDNN_MAX_CPU_ISA=AVX2  oneDNN's kernels capped at AVX2
# About 1 minute. Pause a background build first (kill -STOP) only to time it; the result
# does not depend on load.
set -euo pipefail
cd "$(dirname "$0")/.."
out=benchmarks/results/isa_probe.jsonl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
code=$(python -c "from track1.config import load_config; from track1.profile import Profile; print(Profile.from_section(load_config(None).profile).space.max_code())")
sets=(--set standalone.train_images=512 --set standalone.epochs=2 --set standalone.warmup_epochs=0.5
      --set standalone.batch_size=64 --set standalone.bn_recalib_images=128
      --set standalone.eval_images=256 --set standalone.eval_batch_size=128 --set standalone.average_from=0)
for setting in default MKL_CBWR=AVX2 ONEDNN_MAX_CPU_ISA=AVX2; do
  bash benchmarks/isa_arm.sh "$setting" "$tmp/$setting.jsonl" "${sets[@]}" --codes "$code" --seeds 0
  python - "$tmp/$setting.jsonl" "$setting" "$out" <<'EOF'
import datetime, json, sys
import paddle
from track1.io_utils import append_line
r = json.loads(open(sys.argv[1]).readline())
line = {"setting": sys.argv[2], "cpu": r.get("cpu"), "threads": r.get("threads"), "acc": r["acc"],
        "test_loss": r["test_loss"], "train_loss": r["train_loss"], "code_version": r.get("code_version"),
        "paddle": paddle.__version__, "date": datetime.date.today().isoformat()}
append_line(sys.argv[3], json.dumps(line))
print(json.dumps(line))
EOF
done
