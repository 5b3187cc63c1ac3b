"""The stand-alone training protocol (config section `standalone`) and its schedule."""
from __future__ import annotations

import math

from ..config import section_hash


def lr_at(step: int, total: int, warmup: int, base: float, schedule: str) -> float:
    """Linear warmup over `warmup` steps, then cosine to zero or constant."""
    if warmup and step < warmup:
        return base * (step + 1) / warmup
    if schedule == "constant":
        return base
    t = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


NEUTRAL = {"average_from": 0.0}


def protocol_hash(cfg) -> str:
    """Identity of everything that decides a stand-alone result, except the code and seed.
    The backend and thread count are left out: they change speed and float rounding (the
    static and dygraph losses differ in the 8th digit after a few steps), not the protocol;
    `benchmarks/standalone_speed.py` measured their accuracies within seed noise of each other."""
    st = {k: v for k, v in cfg["standalone"].items() if k not in ("backend", "threads")}
    # Keys added after a GT was built enter the identity only when set: at their neutral value
    # a run is the old protocol's run, bit for bit (tests check it), so old files stay valid.
    for k, neutral in NEUTRAL.items():
        if st.get(k) == neutral:
            st.pop(k)
    data = {k: cfg["data"][k] for k in ("dataset", "val_size", "split_seed", "pad_crop", "flip")}
    return section_hash({"standalone": st, "profile": cfg["profile"], "data": data})
