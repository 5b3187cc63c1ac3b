#!/usr/bin/env bash
# Every registered zero-cost proxy against the GT benchmark (issue 4): a zero-shot
# submission of the GT's codes per proxy, then the check. One JSON line per proxy.
#   bash benchmarks/proxies_vs_gt.sh [GT]
set -euo pipefail
cd "$(dirname "$0")/.."
GT=${1:-$(python tools/gt.py path)}   # default: the config's train.gt
out=output/proxies_vs_gt
mkdir -p $out
for p in $(python tools/proxies.py --list | awk '{print $1}'); do
  python tools/proxies.py --proxy $p --candidates $GT --out $out/$p.json --jobs 1 >/dev/null 2>&1
  python tools/check.py $out/$p.json --gt $GT --json --boot 0 |
    python -c "import json,sys; r=json.load(sys.stdin); print(json.dumps({'proxy': '$p', 'n': r['n'], 'kendall_tau': round(r['kendall_tau'], 3), 'pearson_abs': round(r['pearson_abs'], 3), 'spearman': round(r['spearman'], 3), 'beyond_capacity': round(r['beyond_capacity']['partial_spearman'], 3)}))"
done
