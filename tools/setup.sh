#!/usr/bin/env bash
# Set up what is missing on a fresh machine: the pinned Python packages and, where it is
# absent and we may install system packages, Debian's Fashion-MNIST. Idempotent and quick
# when everything is there. `bash tools/setup.sh --check` only reports the packages.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

# The pins are checked by tools/check_requirements.py: any Paddle build of the pinned version
# (CPU or GPU wheel) counts, and only what is missing is installed, so a GPU install is never
# replaced by the CPU wheel. `setup.sh --check [--path DIR ...]` reports and installs nothing.
if [ "${1:-}" = "--check" ]; then
  shift
  exec "$PY" tools/check_requirements.py "$@"
fi
rc=0
todo=$("$PY" tools/check_requirements.py --specs) || rc=$?
if [ "$rc" = 3 ]; then
  echo "[setup] installing $todo"
  # shellcheck disable=SC2086  # one word per specifier
  "$PY" -m pip install --quiet $todo
elif [ "$rc" != 0 ]; then
  exit 2
fi

# The package itself, editable, so `import track1` and the tools work from anywhere and the
# checkout's edits take effect at once (the track1-* commands come with it).
here=$(pwd)/track1
if [ "$(cd / && "$PY" -c 'import os, track1; print(os.path.dirname(os.path.abspath(track1.__file__)))' 2>/dev/null)" != "$here" ]; then
  echo "[setup] installing track1 (editable) from $(pwd)"
  "$PY" -m pip install --quiet --no-deps -e .
fi

if ! "$PY" tools/data.py where >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[setup] installing Debian package dataset-fashion-mnist"
    apt-get install -y -q dataset-fashion-mnist >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist >/dev/null; }
  fi
  "$PY" tools/data.py where >/dev/null || { "$PY" tools/data.py where; exit 2; }
fi
