#!/usr/bin/env bash
# Set up what is missing on a fresh machine: the pinned Python packages and, where it is
# absent and we may install system packages, Debian's Fashion-MNIST. Idempotent and quick
# when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if ! "$PY" - <<'PY' 2>/dev/null
import sys
from importlib.metadata import version, PackageNotFoundError
want = {}
for line in open("requirements.txt"):
    line = line.split("#")[0].strip()
    if "==" in line:
        name, ver = line.split("==")
        want[name.strip()] = ver.strip()
bad = []
for name, ver in want.items():
    try:
        if version(name) != ver:
            bad.append(name)
    except PackageNotFoundError:
        bad.append(name)
sys.exit(1 if bad else 0)
PY
then
  echo "[setup] installing pinned requirements"
  "$PY" -m pip install --quiet -r requirements.txt
fi

if ! GLOG_minloglevel=2 "$PY" tools/data.py where >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[setup] installing Debian package dataset-fashion-mnist"
    apt-get install -y -q dataset-fashion-mnist >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist >/dev/null; }
  fi
  GLOG_minloglevel=2 "$PY" tools/data.py where >/dev/null || { "$PY" tools/data.py where; exit 2; }
fi
