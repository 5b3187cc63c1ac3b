#!/usr/bin/env bash
# One arm of the ISA benchmarks (isa_probe.sh, isa_cost.sh): a one-thread stand-alone run in
# a fresh process under SETTING (`default`, or one VAR=VALUE such as ONEDNN_MAX_CPU_ISA=AVX2),
# without any oneDNN/MKL setting of the caller's, so an arm is what its name says.
#   bash benchmarks/isa_arm.sh SETTING OUT.jsonl [tools/train_standalone.py args...]
# The run's log goes to OUT.log; on failure it is printed and the exit code is the run's.
set -euo pipefail
cd "$(dirname "$0")/.."
(($# >= 2)) || { echo "usage: bash benchmarks/isa_arm.sh SETTING OUT.jsonl [train_standalone args...]" >&2; exit 2; }
setting=$1 out=$2
shift 2
envs=(OMP_NUM_THREADS=1)
if [[ $setting != default ]]; then
  [[ $setting =~ ^[A-Z_]+=[A-Za-z0-9_]+$ ]] || { echo "error: SETTING '$setting': give 'default' or one VAR=VALUE" >&2; exit 2; }
  envs+=("$setting")
fi
env -u ONEDNN_MAX_CPU_ISA -u DNNL_MAX_CPU_ISA -u MKL_CBWR "${envs[@]}" python tools/train_standalone.py "$@" --out "$out" \
  > "$out.log" 2>&1 || { rc=$?; cat "$out.log"; exit $rc; }
