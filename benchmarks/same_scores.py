"""Do two score files agree on the codes they share? (rank_strategies.sh: a kept score file
redone because the GT grew must give the same scores of the codes it had; if the supernet
was retrained on another kind of machine they may differ a little, and this says by how much.)

    python benchmarks/same_scores.py OLD.json NEW.json
Prints one line; exit 0 whether or not they agree (the new file is the one kept), 2 on bad input.
"""
from __future__ import annotations

import sys

import numpy as np

from track1.candidates import CandidateError, read_official
from track1.metrics import kendall


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


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: same_scores.py OLD.json NEW.json", file=sys.stderr)
        sys.exit(2)
    try:
        old, new = (read_official(p, need_acc=True, what=f"score file {p}") for p in argv)
    except CandidateError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print(f"{argv[1]} vs {argv[0]}: {compare(old, new)}")


if __name__ == "__main__":
    main()
