"""The ranking benchmark's bookkeeping (benchmarks/rank_strategies.sh): the codes it scores,
whether a kept score file holds them all, and whether a redone file agrees with the kept one.

    python benchmarks/rank_codes.py collect GT_DIR OUT.json   every code of GT_DIR/gt.json and of
                                                              GT_DIR/codes_*.json (the codes its build
                                                              is adding), in the official format
    python benchmarks/rank_codes.py covers SCORES.json CODES.json
                                                              exit 0 if SCORES holds every code of
                                                              CODES (same key, same code), else 1
    python benchmarks/rank_codes.py compare OLD.json NEW.json  one line: do the two score files agree on
                                                              the codes they share? (a supernet retrained
                                                              on another machine or code is a new draw:
                                                              it says by how much they differ); exit 0
Bad input: one line naming it, exit 2.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from track1.candidates import CandidateError, read_official
from track1.config import load_config
from track1.io_utils import atomic_write_json
from track1.metrics import kendall
from track1.profile import Profile

SPACE = Profile.from_section(load_config(None).profile).space


def collect(gt_dir: Path) -> dict:
    """{key: {"arch": code}}: the GT's codes, then each list's new ones; a key with two codes is an error."""
    codes, origin = {}, {}
    for f in [gt_dir / "gt.json", *sorted(gt_dir.glob("codes_*.json"))]:
        for k, v in read_official(f, SPACE, what="code list" if f.name != "gt.json" else "GT file").items():
            if k in codes and SPACE.canonical(codes[k]["arch"]) != SPACE.canonical(v["arch"]):
                raise CandidateError(f"key '{k}' has two codes: {codes[k]['arch']} in {origin[k]}, {v['arch']} in {f}")
            codes.setdefault(k, {"arch": v["arch"]})
            origin.setdefault(k, f)
    return codes


def covers(scores: dict, codes: dict) -> bool:
    return all(k in scores and SPACE.canonical(scores[k]["arch"]) == SPACE.canonical(c["arch"])
               for k, c in codes.items())


def compare(old: dict, new: dict) -> str:
    keys = sorted(set(old) & set(new))
    if not keys:
        return "no codes in common"
    a = np.array([old[k]["acc"] for k in keys], float)
    b = np.array([new[k]["acc"] for k in keys], float)
    if np.array_equal(a, b):
        return f"{len(keys)} codes in common: identical scores"
    return (f"{len(keys)} codes in common: scores differ (max |difference| {np.max(np.abs(a - b)):.3g}, "
            f"Kendall tau between them {kendall(a, b):+.3f})")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if len(argv) == 3 and argv[0] == "collect":
            codes = collect(Path(argv[1]))
            atomic_write_json(argv[2], codes)
            print(f"{len(codes)} codes to score: {argv[1]}/gt.json and its codes_*.json")
            return 0
        if len(argv) == 3 and argv[0] == "covers":
            return 0 if covers(read_official(argv[1], SPACE, what="score file"),
                                read_official(argv[2], SPACE, what="code list")) else 1
        if len(argv) == 3 and argv[0] == "compare":
            old, new = (read_official(f, need_acc=True, what="score file") for f in argv[1:])
            print(f"{argv[2]} vs {argv[1]}: {compare(old, new)}")
            return 0
    except CandidateError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("usage: rank_codes.py collect GT_DIR OUT.json | covers SCORES.json CODES.json | compare OLD.json NEW.json",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
