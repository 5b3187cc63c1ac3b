#!/usr/bin/env bash
# The GPU path in one command, for a machine with a GPU (none here): a synthetic 224 px
# ImageFolder, 20 sandwich steps with AMP off and fp16, 100 codes scored by the batched (fp32 and fp16)
# device scorer in batch and recal modes (3 checked against the CPU reference scorer); prints
# step time, peak GPU memory, images/s, candidates/s and the 45,000-candidate estimate.
# No downloads. Without a GPU: one line, exit 2. Exit 1 if a GPU score strays from the CPU's
# or a resumed fp16 run loses the loss scale it had reached.
#   bash benchmarks/gpu_smoke.sh [--out gpu_smoke.json]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh >/dev/null
exec "${PYTHON:-python3}" benchmarks/gpu_smoke.py "$@"
