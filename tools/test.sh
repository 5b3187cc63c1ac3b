#!/usr/bin/env bash
# The README's test command: set up what is missing, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
# Paddle runs one thread per process on CPU, so two pytest workers use both cores; a test
# file stays on one worker (its module fixtures, e.g. a trained tiny supernet, are built once).
# TEST_WORKERS=0 runs in this process (pdb, -s).
exec "${PYTHON:-python3}" -m pytest -n "${TEST_WORKERS:-2}" --dist loadfile "$@"
