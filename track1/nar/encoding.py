"""A code as tokens: the stem, then one token per block slot of the largest network.

Each token: active flag, a one-hot of stem/stage 1-4, its conv widths relative to the
stage's largest width, and its MACs and params relative to the largest network's, so the
encoder sees both the structure and the cost it implies. Absent blocks keep their slot
(zero features but the stage one-hot): position then means "block i of stage s".
"""
from __future__ import annotations

import numpy as np

from ..profile import conv_out
from ..space import MAX_DEPTHS, NUM_STAGES

N_TOKENS = 1 + sum(MAX_DEPTHS)           # stem + 23 block slots
N_FEATURES = 1 + 5 + 3 + 2               # active, kind one-hot, cin/mid/cout ratios, macs, params


def encode(profile, codes) -> np.ndarray:
    """[len(codes), N_TOKENS, N_FEATURES] float32."""
    sp = profile.space
    widths = sp.max_widths()
    top = profile.cost(sp.max_code())
    out = np.zeros((len(codes), N_TOKENS, N_FEATURES), np.float32)
    starts = np.cumsum([1] + list(MAX_DEPTHS[:-1]))       # token index of each stage's first slot
    for n, code in enumerate(codes):
        spec = profile.spec(code)
        t = out[n]
        t[0, 0], t[0, 1] = 1.0, 1.0
        t[0, 8] = spec.stem / sp.max_stem()
        k = profile.stem_kernel
        s0 = conv_out(profile.image_size, k, profile.stem_stride, profile.stem_pad)
        t[0, 9] = k * k * profile.in_channels * spec.stem * s0 * s0 / top["macs"]
        t[0, 10] = (k * k * profile.in_channels + 2) * spec.stem / top["params"]
        for s in range(NUM_STAGES):
            t[starts[s]:starts[s] + MAX_DEPTHS[s], 2 + s] = 1.0
        for b in spec.blocks:
            row = t[starts[b.stage] + b.index]
            w = widths[b.stage]
            cin_max = sp.max_stem() if b.stage == 0 else max(widths[b.stage - 1], w)
            macs, params = profile.block_cost(b)
            row[0] = 1.0
            row[6:9] = (b.cin / cin_max, b.mid / w, b.cout / w)
            row[9:11] = (macs / top["macs"], params / top["params"])
    return out
