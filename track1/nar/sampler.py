"""Tier-distribution-guided sampling (NAR): the MACs/params histograms of each tier steer
proposals towards the cost region of the best tier, when that region is distinct enough
from the worst tier's to carry information; otherwise proposals are uniform."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import predict

QUANTITIES = ("macs", "params")


def js_divergence(p, q) -> float:
    """Jensen-Shannon divergence in bits (0 = same, 1 = disjoint) of two histograms."""
    p = np.asarray(p, np.float64) + 1e-12
    q = np.asarray(q, np.float64) + 1e-12
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    return float(0.5 * (p * np.log2(p / m)).sum() + 0.5 * (q * np.log2(q / m)).sum())


@dataclass
class TierHistograms:
    edges: dict          # quantity -> bin edges over the space's [min, max] cost
    hist: dict           # quantity -> [tiers, bins] normalised counts

    @classmethod
    def build(cls, profile, codes, tiers, n_tiers: int, bins: int) -> "TierHistograms":
        sp = profile.space
        lo, hi = profile.cost(sp.min_code()), profile.cost(sp.max_code())
        edges, hist = {}, {}
        for q in QUANTITIES:
            e = np.linspace(lo[q], hi[q], bins + 1)
            vals = np.array([profile.cost(c)[q] for c in codes], np.float64)
            h = np.zeros((n_tiers, bins))
            for t in range(n_tiers):
                h[t] = np.histogram(vals[np.asarray(tiers) == t], bins=e)[0]
                h[t] /= max(h[t].sum(), 1)
            edges[q], hist[q] = e, h
        return cls(edges, hist)

    def divergence(self) -> dict:
        """JS divergence of the best tier's histogram from the worst tier's, per quantity."""
        return {q: js_divergence(h[0], h[-1]) for q, h in self.hist.items()}

    def bin_of(self, q, value) -> int:
        e = self.edges[q]
        return int(np.clip(np.searchsorted(e, value, side="right") - 1, 0, len(e) - 2))

    def to_dict(self) -> dict:
        return {"edges": {q: e.tolist() for q, e in self.edges.items()},
                "hist": {q: h.tolist() for q, h in self.hist.items()}}

    @classmethod
    def from_dict(cls, d) -> "TierHistograms":
        return cls({q: np.array(e) for q, e in d["edges"].items()},
                   {q: np.array(h) for q, h in d["hist"].items()})


def guided_codes(profile, hist: TierHistograms, n: int, threshold: float, seed: int,
                 pool_factor: int = 20) -> tuple:
    """n distinct codes: for each quantity whose best/worst-tier divergence reaches
    `threshold`, each code's bin is drawn from the best tier's histogram (rejection from a
    uniform pool); other quantities stay uniform. Returns (codes, guided quantities)."""
    rng = np.random.default_rng(seed)
    div = hist.divergence()
    guided = [q for q in QUANTITIES if div[q] >= threshold]
    pool = profile.space.sample_codes(n * pool_factor, seed=int(rng.integers(2 ** 31)))
    if not guided:
        return pool[:n], guided
    bins = {c: tuple(hist.bin_of(q, profile.cost(c)[q]) for q in guided) for c in pool}
    by_key = {}
    for c in pool:
        by_key.setdefault(bins[c], []).append(c)
    out, used = [], set()
    for _ in range(n * 4):
        if len(out) == n:
            break
        key = tuple(int(rng.choice(len(hist.hist[q][0]), p=hist.hist[q][0])) for q in guided)
        avail = [c for c in by_key.get(key, []) if c not in used]
        if avail:
            c = avail[int(rng.integers(len(avail)))]
            used.add(c)
            out.append(c)
    for c in pool:                      # the pool had too few codes in the chosen bins
        if len(out) == n:
            break
        if c not in used:
            used.add(c)
            out.append(c)
    return out, guided


def propose(model, profile, hist: TierHistograms, k: int, n_proposals: int, threshold: float,
            seed: int) -> list:
    """The k best of n_proposals guided proposals by NAR's score: [(code, score)]."""
    codes, _ = guided_codes(profile, hist, n_proposals, threshold, seed)
    scores = predict(model, profile, codes)
    order = np.argsort(-scores, kind="stable")[:k]
    return [(codes[i], float(scores[i])) for i in order]
