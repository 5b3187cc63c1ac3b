"""Where sub-networks come from: the search space or a candidate pool, optionally narrowed
(progressive training), and pair samplers that keep only distant pairs (RD-NAS)."""
from __future__ import annotations

import numpy as np

from ..registry import Registry
from ..space import DEPTH_CHARS, NUM_STAGES, RULES_LEN, WIDTH_CHARS, Arch, SearchSpace, digits, hamming

PAIR_SAMPLERS = Registry("pair sampler")


class ArchSampler:
    """Uniform draws from the sub-space (or a candidate pool), with optional restriction:
    `fix_depth` keeps every stage at its largest depth, `fix_width` every width at the widest
    allowed code (the first phases of progressive training)."""

    def __init__(self, space: SearchSpace, pool=None, fix_depth=False, fix_width=False):
        self.space, self.pool = space, list(pool) if pool is not None else None
        self.fix_depth, self.fix_width = fix_depth, fix_width
        self.max_arch, self.min_arch = space.extreme(True), space.extreme(False)

    def restricted(self, fix_depth=False, fix_width=False) -> "ArchSampler":
        return ArchSampler(self.space, self.pool, fix_depth, fix_width)

    def sample(self, rng: np.random.Generator) -> str:
        if self.pool is not None and not (self.fix_depth or self.fix_width):
            return self.pool[int(rng.integers(len(self.pool)))]
        depths = [hi for _, hi in self.space.depth_range] if self.fix_depth else None
        arch = self.space.sample(rng, depths)
        if self.fix_width:
            arch = widest(self.space, arch)
        return self.space.encode(arch)

    def largest(self) -> str:
        return self.space.encode(self.max_arch)

    def smallest(self) -> str:
        if self.fix_depth or self.fix_width:
            d = [hi for _, hi in self.space.depth_range] if self.fix_depth else list(self.min_arch.depths)
            arch = self.space.extreme(False)
            arch = Arch(arch.image, tuple(d), arch.stem,
                        tuple(tuple(stage[:1]) * d[s] for s, stage in enumerate(arch.blocks)))
            return self.space.encode(widest(self.space, arch) if self.fix_width else arch)
        return self.space.encode(self.min_arch)


def widest(space: SearchSpace, arch: Arch) -> Arch:
    """`arch` with every width code replaced by the widest allowed one (depths kept)."""
    mx = space.extreme(True)
    blocks = tuple(tuple(mx.blocks[s][0] for _ in range(arch.depths[s])) for s in range(NUM_STAGES))
    return Arch(arch.image, arch.depths, mx.stem, blocks)


# ---------------------------------------------------------------- distances
class GroupDistance:
    """RD-NAS group distance between two codes: over the positions where they differ, add
    `far` when the two choices fall in different groups and `near` when in the same group.

    Groups: stage depths by `depth_groups[s]` (lists of depth values), and every width
    digit by `width_groups` (lists of codes; code 0 = an absent block is its own group, so
    a block present in one code and absent in the other always counts as far).
    """

    def __init__(self, depth_groups, width_groups, near=0.5, far=2.0):
        self.near, self.far = float(near), float(far)
        self.group_of = np.full((RULES_LEN, 10), -1, np.int16)      # position x digit -> group id
        for s, pos in enumerate(DEPTH_CHARS):
            for g, values in enumerate(depth_groups[s]):
                for v in values:
                    self.group_of[pos, v] = g
        for pos in WIDTH_CHARS:
            self.group_of[pos, 0] = 100
            for g, values in enumerate(width_groups):
                for v in values:
                    self.group_of[pos, v] = g
        for pos in range(RULES_LEN):
            for v in range(10):
                if self.group_of[pos, v] < 0:
                    self.group_of[pos, v] = 200 + v        # ungrouped: its own group

    def __call__(self, a: str, b: str) -> float:
        da, db = digits(a), digits(b)
        diff = np.nonzero(da != db)[0]
        same = self.group_of[diff, da[diff]] == self.group_of[diff, db[diff]]
        return float(same.sum() * self.near + (~same).sum() * self.far)


def hamming_distance(a: str, b: str) -> float:
    return float(hamming(a, b))


@PAIR_SAMPLERS.register("none")
def no_filter(rdnas):
    return None


@PAIR_SAMPLERS.register("hamming")
def hamming_filter(rdnas):
    return hamming_distance


@PAIR_SAMPLERS.register("group")
def group_filter(rdnas):
    return GroupDistance(rdnas["depth_groups"], rdnas["width_groups"], rdnas["near_weight"], rdnas["far_weight"])


def distance_quantile(sampler: ArchSampler, distance, q: float, seed: int, pairs: int = 2000) -> float:
    """The q-quantile of `distance` between two random draws of `sampler`. An absolute
    threshold means nothing across distances and spaces (two random codes of this space were
    never closer than group distance 16.5 in 2,000 draws); a quantile is the share of pairs the filter rejects. Drawn
    from a stream of its own derived from the one seed, so calibrating never shifts the
    training draws."""
    rng = np.random.default_rng([seed, 1])
    d = [distance(sampler.sample(rng), sampler.sample(rng)) for _ in range(pairs)]
    return float(np.quantile(d, q))


def sample_distant(sampler: ArchSampler, rng, n: int, distance, threshold: float, fixed=(),
                   max_tries: int = 50) -> list:
    """`n` codes whose distance to each other and to `fixed` is >= threshold (as far as
    `max_tries` redraws per code allow; the best-separated draw is kept otherwise)."""
    out = []
    for _ in range(n):
        best, best_d = None, -1.0
        for _ in range(max_tries):
            c = sampler.sample(rng)
            others = list(fixed) + out
            d = min((distance(c, o) for o in others), default=float("inf")) if distance else float("inf")
            if d > best_d:
                best, best_d = c, d
            if d >= threshold:
                break
        out.append(best)
    return out
