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
                                            enumerate(profile.parse(keys_codes[i][1]).depths)))
        for s, d in enumerate(profile.parse(keys_codes[best][1]).depths):
            counts[(s, d)] += 1
        chosen.append(int(best))
    codes = [(keys_codes[i][0], keys_codes[i][1], int(macs[i])) for i in chosen]
    step = n / repeats if repeats else 0
    repeat_keys = [codes[int(step * j + step / 2)][0] for j in range(repeats)]
    return {"codes": codes, "repeat_keys": repeat_keys}
