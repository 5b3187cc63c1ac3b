#!/usr/bin/env bash
# Train the supernet:  bash tools/train.sh [CONFIG] [key=value ...] [--resume] [--candidates FILE] [--max-steps N]
#   CONFIG: a name in configs/ or a path (default fashion_mnist); key=value overrides any
#   config key, e.g.  bash tools/train.sh fashion_mnist train.strategy=rdnas train.epochs=3
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ " $* " == *" --help "* || " $* " == *" -h "* ]]; then
  sed -n '2,4s/^# \{0,1\}//p' "$0"
  echo "Options after CONFIG (passed to tools/train.py):"
  exec "${PYTHON:-python3}" tools/train.py --help
fi
args=()
if [ $# -gt 0 ] && [[ "$1" != *=* ]] && [[ "$1" != --* ]]; then
  args+=(--config "$1"); shift
fi
while [ $# -gt 0 ]; do
  case "$1" in
    --candidates|--max-steps|--config)          # options that take a value: keep the pair
      [ $# -ge 2 ] || { echo "error: $1 needs a value" >&2; exit 2; }
      args+=("$1" "$2"); shift 2 ;;
    --*) args+=("$1"); shift ;;
    *) args+=(--set "$1"); shift ;;
  esac
done
exec "${PYTHON:-python3}" tools/train.py "${args[@]}"
