#!/usr/bin/env bash
# Train the supernet:  bash tools/train.sh [CONFIG] [key=value ...] [--resume]
#   CONFIG: a name in configs/ or a path (default fashion_mnist); key=value overrides any
#   config key, e.g.  bash tools/train.sh fashion_mnist train.strategy=rdnas train.epochs=3
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
if [ $# -gt 0 ] && [[ "$1" != *=* ]] && [[ "$1" != --* ]]; then
  args+=(--config "$1"); shift
fi
for a in "$@"; do
  if [[ "$a" == --* ]]; then args+=("$a"); else args+=(--set "$a"); fi
done
export GLOG_minloglevel=${GLOG_minloglevel:-2}
exec "${PYTHON:-python3}" tools/train.py "${args[@]}"
