#!/usr/bin/env bash
# Ground-truth protocol study (issue 3): the same 6 codes (from the benchmark's repeated
# subset, spread over MACs) x seeds 0 and 1, under protocol variants of equal budget
# (150k training samples per run). Resumable: rerun to continue.
#   bash benchmarks/protocol_study.sh CODES.json   then   python tools/gt.py summary FILE
set -euo pipefail
cd "$(dirname "$0")/.."
codes=${1:?usage: protocol_study.sh CODES.json}
out=benchmarks/gt/fashion_mnist/study
mkdir -p "$out"
run() {  # name, overrides...
  local name=$1; shift
  local sets=()
  for o in "$@"; do sets+=(--set "$o"); done
  # v1's protocol family: averaging off (the default since GT v2 records the tail average)
  python tools/train_standalone.py --codes "$codes" --seeds 0 1 --jobs 2 --out "$out/$name.jsonl" "${sets[@]}" \
    --set standalone.average_from=0
}
run noaug   standalone.augment=false
run aug     standalone.augment=true
run subset  standalone.augment=true standalone.train_images=15000 standalone.epochs=10 standalone.warmup_epochs=0.9
