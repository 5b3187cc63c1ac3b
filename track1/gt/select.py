"""Choose the benchmark's codes from a candidate file: seeded, stratified over MACs and depths."""
from __future__ import annotations

from collections import Counter

import numpy as np


def select_codes(keys_codes, profile, n: int = 100, repeats: int = 20, seed: int = 0,
                 pool: int = 20) -> dict:
    """`n` codes, one per MAC stratum (candidates sorted by MACs, cut into n equal strata);
    inside a stratum, of `pool` random draws the one whose stage depths are rarest so far,
    so every depth of every stage is covered. `repeats` of them (evenly spread over MACs)
    get a second seed. Returns {"codes": [(key, code, macs)], "repeat_keys": [...]}."""
    if n < 1 or n > len(keys_codes):
        raise ValueError(f"cannot select {n} codes from {len(keys_codes)} candidates")
    if not 0 <= repeats <= n:
        raise ValueError(f"repeats must lie in 0..{n}, got {repeats}")
    rng = np.random.default_rng(seed)
    macs = np.array([profile.macs(c) for _, c in keys_codes])
    order = np.argsort(macs, kind="stable")
    strata = np.array_split(order, n)
    counts = Counter()
    chosen = []
    for stratum in strata:
        draws = rng.choice(stratum, size=min(pool, len(stratum)), replace=False)
        best = min(draws, key=lambda i: sum(counts[(s, d)] for s, d in
                                            enumerate(profile.space.parse(keys_codes[i][1]).depths)))
        for s, d in enumerate(profile.space.parse(keys_codes[best][1]).depths):
            counts[(s, d)] += 1
        chosen.append(int(best))
    codes = [(keys_codes[i][0], keys_codes[i][1], int(macs[i])) for i in chosen]
    step = n / repeats if repeats else 0
    repeat_keys = [codes[int(step * j + step / 2)][0] for j in range(repeats)]
    return {"codes": codes, "repeat_keys": repeat_keys}


def spread_order(items, key) -> list:
    """`items` sorted by `key`, then taken in van der Corput order of their rank (0, 1/2,
    1/4, 3/4, ...): every prefix covers the range about evenly. Deterministic, no seed."""
    items = sorted(items, key=key)
    n, bits = len(items), max(1, (len(items) - 1).bit_length())
    rev = lambda i: int(format(i, f"0{bits}b")[::-1], 2)      # noqa: E731
    return [items[i] for i in sorted(range(n), key=lambda i: (rev(i), i))]


def write_selection(out, cfg, prof, candidates=None, n: int = 100, repeats: int = 20, seed: int = 0) -> str:
    """`select_codes` on the candidate file (flag, config or environment) -> a selection file
    naming its rule; returns the line to print."""
    from ..candidates import CandidateError, load_candidates, resolve_path
    from ..io_utils import atomic_write_json
    path = resolve_path(candidates, cfg)
    if path is None:
        raise CandidateError("no candidate file: pass --candidates, set config 'candidates' or $TRACK1_CANDIDATES")
    try:
        sel = select_codes([(c.key, c.code) for c in load_candidates(path, prof.space)], prof, n, repeats, seed)
    except CandidateError:
        raise
    except ValueError as e:              # n or repeats out of range for this file
        raise CandidateError(str(e)) from None
    rep = set(sel["repeat_keys"])
    atomic_write_json(out, {
        "rule": f"select_codes(n={n}, repeats={repeats}, seed={seed}): one code per "
                "MAC stratum, rarest stage depths first; repeats evenly spread over MACs",
        "candidates": path.name, "profile": prof.name,
        "codes": {k: {"arch": c, "macs": mc, "repeat": k in rep} for k, c, mc in sel["codes"]}}, indent=1)
    return f"{len(sel['codes'])} codes ({len(rep)} repeated) -> {out}"


def export_selection(selection, which: str = "all", out=None) -> str:
    """A selection file -> an official-format code file of all, the repeated or the single
    codes, in `spread_order` of MACs (trained in this order, a GT built part-way already
    spans the range; in MAC order a partial GT holds only the cheap codes)."""
    import json
    from pathlib import Path
    from ..candidates import CandidateError
    from ..io_utils import atomic_write_json
    try:
        sel = json.loads(Path(selection).read_text())["codes"]
        keep = [(k, v) for k, v in sel.items() if which == "all" or v["repeat"] == (which == "repeat")]
        keep = {k: {"arch": v["arch"], "acc": 0.0} for k, v in spread_order(keep, lambda kv: kv[1]["macs"])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise CandidateError(f"selection file '{selection}': not a selection written by `gt.py select` "
                             f"({type(e).__name__}: {e})") from None
    atomic_write_json(out, keep, indent=1)
    return f"{len(keep)} codes -> {out}"
