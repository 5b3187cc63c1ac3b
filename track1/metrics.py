"""Ranking metrics of the leaderboard, all paired by arch key (never by list order)."""
from __future__ import annotations

import numpy as np
from scipy import stats


def kendall(a, b) -> float:
    return float(stats.kendalltau(a, b).statistic)


def pearson(a, b) -> float:
    return float(stats.pearsonr(a, b).statistic)


def spearman(a, b) -> float:
    return float(stats.spearmanr(a, b).statistic)


def top_k_precision(pred, true, frac: float) -> float:
    """Share of the true top `frac` that the prediction also puts in its top `frac`."""
    n = len(true)
    k = max(1, int(round(frac * n)))
    top_true = set(np.argsort(-np.asarray(true), kind="stable")[:k])
    top_pred = set(np.argsort(-np.asarray(pred), kind="stable")[:k])
    return len(top_true & top_pred) / k


METRIC_KEYS = ("pearson_abs", "kendall_tau", "spearman", "top5pct", "top10pct")


def all_metrics(pred, true) -> dict:
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    return {
        "pearson_abs": abs(pearson(pred, true)),
        "kendall_tau": kendall(pred, true),
        "spearman": spearman(pred, true),
        "top5pct": top_k_precision(pred, true, 0.05),
        "top10pct": top_k_precision(pred, true, 0.10),
    }


def bootstrap_ci(pred, true, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """Percentile intervals of every metric over resamples of the paired codes."""
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    rng = np.random.default_rng(seed)
    n = len(true)
    samples = {k: [] for k in METRIC_KEYS}
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        if np.ptp(pred[idx]) == 0 or np.ptp(true[idx]) == 0:
            continue
        for k, v in all_metrics(pred[idx], true[idx]).items():
            samples[k].append(v)
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    return {k: [float(np.percentile(v, lo)), float(np.percentile(v, hi))] for k, v in samples.items() if v}


def tau_ceiling(icc_value: float, seeds_per_code) -> float:
    """The Kendall tau a perfect ranker (the codes' noise-free accuracy) can reach against a
    GT whose values are means of k seeds (one k, or one per code), for per-run reliability
    `icc_value`. The GT's noise variance is (1 - ICC) mean(1/k) in units of the total, so its
    reliability is ICC / (ICC + (1 - ICC) mean(1/k)) (Spearman-Brown for one k), its
    correlation with the truth the square root of that, and tau = (2 / pi) arcsin(r) for
    normal noise. Every tau measured against the GT is read against this, not against 1."""
    if icc_value <= 0:
        return 0.0
    inv_k = float(np.mean(1.0 / np.asarray(seeds_per_code, float)))
    rel = icc_value / (icc_value + (1 - icc_value) * inv_k)
    return float(2 / np.pi * np.arcsin(np.sqrt(rel)))


def icc(matrix) -> float:
    """One-way intra-class correlation ICC(1) of a (codes x seeds) matrix: the share of the
    variance that lies between codes. 1 = seeds agree perfectly, 0 = pure noise."""
    m = np.asarray(matrix, float)
    n, k = m.shape
    grand = m.mean()
    msb = k * ((m.mean(1) - grand) ** 2).sum() / (n - 1)
    msw = ((m - m.mean(1, keepdims=True)) ** 2).sum() / (n * (k - 1))
    return float((msb - msw) / (msb + (k - 1) * msw))
