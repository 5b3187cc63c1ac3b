"""The codes the ranking benchmark scores, and whether a kept score file holds them all
(benchmarks/rank_strategies.sh).

    python benchmarks/rank_codes.py collect GT_DIR OUT.json   every code of GT_DIR/gt.json and of
                                                              GT_DIR/codes_*.json (the codes its build
                                                              is adding), in the official format
    python benchmarks/rank_codes.py covers SCORES.json CODES.json
                                                              exit 0 if SCORES holds every code of
                                                              CODES (same key, same code), else 1
Bad input: one line naming it, exit 2.
"""
from __future__ import annotations

import sys
from pathlib import Path

from track1.candidates import CandidateError, read_official
from track1.config import load_config
from track1.io_utils import atomic_write_json
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
    except CandidateError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("usage: rank_codes.py collect GT_DIR OUT.json | covers SCORES.json CODES.json", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
