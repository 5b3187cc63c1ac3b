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

if ! GLOG_minloglevel=2 "$PY" tools/data.py where >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[setup] installing Debian package dataset-fashion-mnist"
    apt-get install -y -q dataset-fashion-mnist >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist >/dev/null; }
  fi
  GLOG_minloglevel=2 "$PY" tools/data.py where >/dev/null || { "$PY" tools/data.py where; exit 2; }
fi
