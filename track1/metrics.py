"""Ranking metrics of the leaderboard, all paired by arch key (never by list order), and the
statistics that say how far a ground truth (GT) of noisy stand-alone runs can be trusted:
ICC with intervals, the GT's reliability, its noise ceiling, disattenuated correlations,
the smallest difference between two rankers it resolves, and the reliable signal beyond
capacity (residual ICC).

The noise model throughout (Gaussian, as in ../shared/notes/ground-truth-statistics.md):
a code's run value = its true value + independent run noise; the GT holds the mean of
k runs per code; rankers and GT are jointly normal with the truth, so a Kendall tau and
the latent correlation rho map into each other by tau = (2 / pi) asin(rho).
"""
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



PAIRED_KEYS = ("kendall_tau", "pearson_abs", "spearman")


def _batch_pearson(x, y):
    """Pearson r of each row pair of (B, n) arrays."""
    x = x - x.mean(1, keepdims=True)
    y = y - y.mean(1, keepdims=True)
    x /= np.abs(x).max(1, keepdims=True)         # scaled first, as scipy does: no overflow in squares
    y /= np.abs(y).max(1, keepdims=True)
    return (x * y).sum(1) / np.sqrt((x * x).sum(1) * (y * y).sum(1))


def _batch_kendall(x, y, cells: int = 1 << 22):
    """Kendall tau-b of each row pair of (B, n) arrays (ties, e.g. a bootstrap's repeated
    codes, leave both the numerator and their side of the denominator, as in scipy)."""
    out = np.empty(len(x))
    step = max(1, cells // x.shape[1] ** 2)      # bounded memory for any n
    for i in range(0, len(x), step):
        sx = np.sign(x[i:i + step, :, None] - x[i:i + step, None, :]).astype(np.int8)
        sy = np.sign(y[i:i + step, :, None] - y[i:i + step, None, :]).astype(np.int8)
        num = (sx * sy).sum((1, 2), dtype=np.int64)
        out[i:i + step] = num / np.sqrt((sx != 0).sum((1, 2), dtype=np.int64)
                                        * (sy != 0).sum((1, 2), dtype=np.int64).astype(float))
    return out


def _batch_spearman(x, y):
    return _batch_pearson(stats.rankdata(x, axis=1), stats.rankdata(y, axis=1))


def paired_bootstrap(pred_a, pred_b, true, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """A vs B on the same codes: {metric: {"a", "b", "diff", "ci"}} for Kendall tau, |Pearson|
    and Spearman, diff = A - B. Each resample draws the codes once and scores both rankers
    on it, so the interval is that of the paired difference (the GT's noise and the codes'
    draw are shared by A and B and largely cancel). Resamples on which a ranking is constant
    are skipped."""
    pred_a, pred_b, true = (np.asarray(x, float) for x in (pred_a, pred_b, true))
    fns = {"kendall_tau": kendall, "pearson_abs": lambda x, y: abs(pearson(x, y)), "spearman": spearman}
    batch = {"kendall_tau": _batch_kendall, "pearson_abs": lambda x, y: np.abs(_batch_pearson(x, y)),
             "spearman": _batch_spearman}
    out = {k: {"a": f(pred_a, true), "b": f(pred_b, true)} for k, f in fns.items()}
    idx = np.random.default_rng(seed).integers(0, len(true), (n_boot, len(true)))
    a, b, t = pred_a[idx], pred_b[idx], true[idx]
    keep = (np.ptp(a, 1) > 0) & (np.ptp(b, 1) > 0) & (np.ptp(t, 1) > 0)
    a, b, t = a[keep], b[keep], t[keep]
    for k, f in batch.items():
        out[k]["diff"] = out[k]["a"] - out[k]["b"]
        out[k]["ci"] = _percentile_interval(f(a, t) - f(b, t), level) if len(t) else None
    return out


def verdict(ci) -> str:
    """What a paired interval of A - B says: "A > B", "B > A", or "not resolved" (it holds 0)."""
    if ci is None or ci[0] <= 0 <= ci[1]:
        return "not resolved"
    return "A > B" if ci[0] > 0 else "B > A"


# ----------------------------------------------------------------- reliability of a GT

def icc(matrix) -> float:
    """One-way intra-class correlation ICC(1) of a (codes x seeds) matrix: the share of the
    variance that lies between codes. 1 = seeds agree perfectly, 0 = pure noise."""
    m = np.asarray(matrix, float)
    return float(_icc_stack(m[None])[0])


def _icc_stack(m, resid_means=None, df_between=None):
    """ICC(1) of a stack of (codes x seeds) matrices, shape (B, n, k), from the one-way
    ANOVA mean squares. `resid_means` (B, n) replaces the centred code means (the residual
    ICC), with `df_between` degrees of freedom instead of n - 1."""
    n, k = m.shape[-2:]
    means = m.mean(-1)
    msw = ((m - means[..., None]) ** 2).sum((-2, -1)) / (n * (k - 1))
    dev = means - means.mean(-1, keepdims=True) if resid_means is None else resid_means
    msb = k * (dev ** 2).sum(-1) / (n - 1 if df_between is None else df_between)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (msb - msw) / (msb + (k - 1) * msw)


def _percentile_interval(values, level: float):
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if not len(v):
        return None
    return [float(np.percentile(v, (1 - level) / 2 * 100)), float(np.percentile(v, (1 + level) / 2 * 100))]


def icc_interval(matrix, n_boot: int = 2000, seed: int = 0, level: float = 0.95):
    """Percentile bootstrap interval [lo, hi] of ICC(1), resampling codes (rows) with
    replacement. On 20-40 codes it is wide (about +-0.3): an ICC without it says little."""
    m = np.asarray(matrix, float)
    idx = np.random.default_rng(seed).integers(0, len(m), (n_boot, len(m)))
    return _percentile_interval(_icc_stack(m[idx]), level)


def paired_icc_difference(matrix_a, matrix_b, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """ICC(A) - ICC(B) of two protocols run on the same codes (row i of both = one code),
    with a percentile interval from resampling the codes once for both: the codes' own
    spread is shared, so the interval is that of the difference, not of two ICCs."""
    a, b = np.asarray(matrix_a, float), np.asarray(matrix_b, float)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"paired ICCs need the same codes: {a.shape[0]} vs {b.shape[0]} rows")
    idx = np.random.default_rng(seed).integers(0, len(a), (n_boot, len(a)))
    ia, ib = icc(a), icc(b)
    return {"a": ia, "b": ib, "diff": ia - ib,
            "ci": _percentile_interval(_icc_stack(a[idx]) - _icc_stack(b[idx]), level)}


def capacity_design(macs, params) -> np.ndarray:
    """The regressors capacity offers for free: [1, log MACs, log params] per code."""
    macs, params = np.asarray(macs, float), np.asarray(params, float)
    return np.column_stack([np.ones(len(macs)), np.log(macs), np.log(params)])


def _residual_icc_stack(m, x):
    """Residual ICC of stacks m (B, n, k), x (B, n, p): the code means are regressed on x
    (least squares, one fit per matrix); every run of a code loses the same fitted value,
    so the within-code mean square is untouched and the between-code one is that of the
    residual means, on n - rank(x) degrees of freedom (the fit used rank(x) of them:
    without this the residual ICC would sit below 0 for pure-capacity data)."""
    y = m.mean(-1)
    fit = (x @ (np.linalg.pinv(x) @ y[..., None]))[..., 0]
    df = m.shape[-2] - np.linalg.matrix_rank(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(df > 0, _icc_stack(m, y - fit, np.maximum(df, 1)), np.nan)


def residual_icc(matrix, macs, params) -> float:
    """ICC(1) of what capacity does not explain: every run's value minus the value that
    [1, log MACs, log params] predicts for its code (least squares fitted over the code
    means of `matrix`). It answers "is there reliable signal beyond capacity?": about 0
    means that the codes differ reliably only as much as their MACs and params say, so
    no ranker can be shown to know more than FLOPs/params on this GT; the plain ICC can
    still be high (capacity itself is reliable). Needs more codes than regressors (4)."""
    m = np.asarray(matrix, float)
    return float(_residual_icc_stack(m[None], capacity_design(macs, params)[None])[0])


def residual_icc_interval(matrix, macs, params, n_boot: int = 2000, seed: int = 0, level: float = 0.95):
    """Percentile bootstrap interval of `residual_icc` over codes; the regression is refit
    on every resample, so the interval carries the fit's uncertainty too."""
    m, x = np.asarray(matrix, float), capacity_design(macs, params)
    idx = np.random.default_rng(seed).integers(0, len(m), (n_boot, len(m)))
    return _percentile_interval(_residual_icc_stack(m[idx], x[idx]), level)


def _partial_rank_stack(pred, true, macs, params):
    """Partial Spearman of stacks (B, n): the ranks of pred and of true, each minus its least
    squares fit on [1, rank(MACs), rank(params)], correlated. 0 where a residual is constant
    (a ranker that is a function of capacity alone knows nothing beyond it)."""
    from scipy.stats import rankdata
    r = [rankdata(v, axis=-1) for v in (pred, true, macs, params)]
    x = np.stack([np.ones_like(r[2]), r[2], r[3]], -1)
    fit = lambda y: y - (x @ (np.linalg.pinv(x) @ y[..., None]))[..., 0]     # noqa: E731
    a, b = fit(r[0]), fit(r[1])
    a, b = a - a.mean(-1, keepdims=True), b - b.mean(-1, keepdims=True)
    den = np.sqrt((a * a).sum(-1) * (b * b).sum(-1))
    scale = np.sqrt((r[0] ** 2).sum(-1) * (r[1] ** 2).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 1e-9 * scale, (a * b).sum(-1) / den, 0.0)


def beyond_capacity(pred, true, macs, params) -> float:
    """What a ranker knows beyond size: the partial Spearman correlation of its scores with
    the GT given the ranks of MACs and params (both rankings' parts that capacity predicts,
    by least squares, removed). FLOPs and params themselves score 0; a ranker above 0 with
    an interval above 0 orders codes of alike capacity better than chance."""
    stack = [np.asarray(v, float)[None] for v in (pred, true, macs, params)]
    return float(_partial_rank_stack(*stack)[0])


def beyond_capacity_interval(pred, true, macs, params, n_boot: int = 1000, seed: int = 0, level: float = 0.95):
    """Percentile bootstrap interval of `beyond_capacity` over codes (the fit redone on each
    resample). `pred` may be a stack (seeds, n) of one ranker's seeds: the interval is then
    that of their mean, every seed resampled on the same codes (so it covers the sampling of
    codes, not the spread from training more seeds)."""
    preds = np.atleast_2d(np.asarray(pred, float))
    v = [np.asarray(x, float) for x in (true, macs, params)]
    idx = np.random.default_rng(seed).integers(0, len(v[0]), (n_boot, len(v[0])))
    stat = np.mean([_partial_rank_stack(p[idx], *(x[idx] for x in v)) for p in preds], axis=0)
    return _percentile_interval(stat, level)


def within_strata_tau(pred, true, macs, strata: int = 5) -> float:
    """Kendall tau within MAC strata: the codes cut into `strata` groups of about equal size by
    MACs, tau computed in each and averaged. What a ranker knows among codes of alike size
    (FLOPs still scores above 0 here: MACs vary inside a stratum). A ranker constant inside a
    stratum scores 0 there (it orders nothing); strata with a constant GT or under 3 codes
    are skipped, and with none left the result is nan."""
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    groups = np.array_split(np.argsort(np.asarray(macs, float), kind="stable"), strata)
    taus = [kendall(pred[g], true[g]) if np.ptp(pred[g]) > 0 else 0.0
            for g in groups if len(g) > 2 and np.ptp(true[g]) > 0]
    return float(np.mean(taus)) if taus else float("nan")


def seed_partial_spearman(matrix, macs, params, n_boot: int = 0, seed: int = 0, level: float = 0.95):
    """The reliability of what capacity does not explain, in the statistic `beyond_capacity`
    uses: the partial Spearman between the first two seeds' values of each code (rows of
    `matrix`) given the ranks of MACs and params. Spearman-Brown it to a GT's seeds per code
    (`gt_reliability`) and take the square root for about the highest `beyond_capacity` a
    ranker that knew the noise-free values could show against that GT. Returns the value,
    and with n_boot > 0 also its percentile bootstrap interval over codes."""
    m = np.asarray(matrix, float)
    v = [m[:, 0], m[:, 1], np.asarray(macs, float), np.asarray(params, float)]
    value = float(_partial_rank_stack(*(x[None] for x in v))[0])
    if not n_boot:
        return value
    idx = np.random.default_rng(seed).integers(0, len(m), (n_boot, len(m)))
    return value, _percentile_interval(_partial_rank_stack(*(x[idx] for x in v)), level)


def _pair_resamples(m, others, n_boot: int, seed: int):
    """The codes' bootstrap draws for the two-run comparisons below: row 0 the codes as they
    are, then `n_boot` resamples, less those on which a run or one of `others` is constant."""
    idx = np.concatenate([np.arange(len(m))[None], np.random.default_rng(seed).integers(0, len(m), (n_boot, len(m)))])
    keep = (np.ptp(m[idx, 0], 1) > 0) & (np.ptp(m[idx, 1], 1) > 0)
    for x in others:
        keep &= np.ptp(x[idx], 1) > 0
    keep[0] = True
    return idx[keep]


def versus_a_second_run(preds, matrix, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """A ranker against single runs, next to the dearest ranker there is, a second stand-alone
    run of every code: on codes run twice (rows of `matrix`, first two seeds), the mean
    Kendall tau of each of `preds` (rows: a ranker's seeds) against each seed alone, and the
    tau of one seed against the other. The difference says whether the ranker predicts a
    stand-alone run's accuracy better or worse than another run of the same code does;
    interval: resampled codes, paired. {"n_codes", "tau", "second_run", "diff", "ci"}."""
    m = np.asarray(matrix, float)[:, :2]
    p = np.atleast_2d(np.asarray(preds, float))
    idx = _pair_resamples(m, [], n_boot, seed)
    s0, s1 = m[idx, 0], m[idx, 1]
    mine = np.mean([(_batch_kendall(x[idx], s0) + _batch_kendall(x[idx], s1)) / 2 for x in p], 0)
    d = mine - _batch_kendall(s0, s1)
    return {"n_codes": len(m), "tau": float(mine[0]), "second_run": float(mine[0] - d[0]), "diff": float(d[0]),
            "ci": _percentile_interval(d[1:], level) if n_boot else None}


def second_run_beside_capacity(matrix, macs, n_boot: int = 2000, seed: int = 0, level: float = 0.95,
                               weight: float = 0.5) -> dict:
    """Can even a second stand-alone run of every code be shown above FLOPs? On codes run
    twice, MACs against `versus_a_second_run` ("macs": its figures, diff = MACs minus the
    second run), and the second run rank-averaged with MACs (`weight` on the run; each seed's
    blend scored against the other seed) minus MACs alone ("blend", "blend_minus_macs",
    paired over the same resamples). When neither the run nor the blend is above MACs, a
    supernet can be shown above FLOPs on such a GT's single runs only if it estimates accuracy
    better than a stand-alone training does."""
    m = np.asarray(matrix, float)[:, :2]
    macs = np.asarray(macs, float)
    idx = _pair_resamples(m, [macs], n_boot, seed)
    s0, s1, c = m[idx, 0], m[idx, 1], macs[idx]
    r0, r1, rc = (stats.rankdata(x, axis=1) for x in (s0, s1, c))
    cap = (_batch_kendall(c, s1) + _batch_kendall(c, s0)) / 2
    blend = (_batch_kendall(weight * r0 + (1 - weight) * rc, s1)
             + _batch_kendall(weight * r1 + (1 - weight) * rc, s0)) / 2
    d = blend - cap
    return {"macs": versus_a_second_run(macs, m, n_boot, seed, level), "blend": float(blend[0]), "weight": weight,
            "blend_minus_macs": {"diff": float(d[0]), "ci": _percentile_interval(d[1:], level) if n_boot else None}}


def gt_reliability(icc_value: float, seeds_per_code) -> float:
    """Reliability R of a GT whose values are means of k runs (one k, or one per code) of
    per-run ICC `icc_value`: the share of the GT's variance that is true between-code
    variance, i.e. its squared correlation with the noise-free values. A code's noise
    variance is (1 - ICC) / k in units of the per-run total, so R = ICC / (ICC + (1 - ICC)
    mean(1/k)), which for one k is Spearman-Brown k ICC / (1 + (k - 1) ICC). 0 for ICC <= 0."""
    if icc_value <= 0:
        return 0.0
    inv_k = float(np.mean(1.0 / np.asarray(seeds_per_code, float)))
    return float(icc_value / (icc_value + (1 - icc_value) * inv_k))


def observed_tau(true_tau, reliability: float):
    """The Kendall tau a ranker of true tau `true_tau` (against the noise-free values) shows
    against a GT of reliability R: its latent correlation sin(pi/2 tau) shrinks by sqrt(R)."""
    return 2 / np.pi * np.arcsin(np.sqrt(reliability) * np.sin(np.pi / 2 * np.asarray(true_tau, float)))


def tau_ceiling(icc_value: float, seeds_per_code) -> float:
    """The Kendall tau a perfect ranker (the codes' noise-free accuracy) can reach against a
    GT whose values are means of k seeds (one k, or one per code), for per-run reliability
    `icc_value`: (2 / pi) asin(sqrt(R)) with R = `gt_reliability`. Every tau measured
    against the GT is read against this, not against 1."""
    return float(observed_tau(1.0, gt_reliability(icc_value, seeds_per_code)))


def _check_reliability(reliability: float):
    if not 0 < reliability <= 1:
        raise ValueError(f"reliability must lie in (0, 1], got {reliability}: a GT without "
                         "reliable signal cannot be corrected for its noise")


def disattenuate(r_obs: float, reliability: float) -> float:
    """Correlation (Pearson) with the noise-free values, from the one observed against a GT
    of reliability R: r_obs / sqrt(R) (Spearman's correction, the ranker side taken as
    is: only the GT's noise is removed). R is `gt_reliability` of the GT. Clipped to
    [-1, 1]: sampling error can push the ratio past 1."""
    _check_reliability(reliability)
    return float(np.clip(r_obs / np.sqrt(reliability), -1.0, 1.0))


def disattenuate_tau(tau_obs: float, reliability: float) -> float:
    """Kendall tau with the noise-free values, corrected on the Gaussian scale (a tau cannot
    be divided by sqrt(R) directly): rho_obs = sin(pi/2 tau), rho = rho_obs / sqrt(R)
    clipped to [-1, 1], tau = (2 / pi) asin(rho). Inverse of `observed_tau`."""
    _check_reliability(reliability)
    rho = np.clip(np.sin(np.pi / 2 * tau_obs) / np.sqrt(reliability), -1.0, 1.0)
    return float(2 / np.pi * np.arcsin(rho))


def _signs(x) -> np.ndarray:
    """sign(x_i - x_j) for all pairs, from ranks (small ints: 4x less memory than floats)."""
    r = np.argsort(np.argsort(x)).astype(np.int16 if len(x) < 2 ** 15 else np.int32)
    return np.sign(r[:, None] - r[None, :]).astype(np.int8)


class _PairModel:
    """The seeded sample of `paired_tau_se`, with GT and ranker A drawn once: solving for a
    resolvable difference evaluates many B's against the same A and GT."""

    def __init__(self, reliability, tau_a, error_corr, n_sim, seed):
        _check_reliability(reliability)
        if not -1 <= error_corr <= 1:
            raise ValueError(f"error_corr must lie in [-1, 1], got {error_corr}")
        self.r, self.tau_a, self.c = reliability, tau_a, error_corr
        self.a = float(np.sin(np.pi / 2 * tau_a))
        t, e_g, self.e_1, self.e_2 = np.random.default_rng(seed).standard_normal((4, n_sim))
        self.t = t
        self.s_g = _signs(np.sqrt(reliability) * t + np.sqrt(1 - reliability) * e_g)
        self.k_a = self.s_g * _signs(self.a * t + np.sqrt(1 - self.a ** 2) * self.e_1)

    def __call__(self, n_codes, tau_b) -> dict:
        a, b, c, n = self.a, float(np.sin(np.pi / 2 * tau_b)), self.c, len(self.t)
        x_b = b * self.t + np.sqrt(1 - b * b) * (c * self.e_1 + np.sqrt(1 - c * c) * self.e_2)
        k = self.k_a - self.s_g * _signs(x_b)          # s_G (s_A - s_B); diagonal 0
        s = k.sum(1, dtype=np.int64).astype(float)
        diff_hat = s.sum() / (n * (n - 1))
        sq = (k != 0).sum(1, dtype=np.int64) * 4.0      # k is 0 or +-2
        zeta1 = max(0.0, (s ** 2 - sq).sum() / (n * (n - 1) * (n - 2)) - diff_hat ** 2)
        rho_ab = np.clip(a * b + np.sqrt((1 - a * a) * (1 - b * b)) * c, -1, 1)
        diff = float(observed_tau(self.tau_a, self.r) - observed_tau(tau_b, self.r))
        zeta2 = max(0.0, 2 - 2 * (2 / np.pi * np.arcsin(rho_ab)) - diff ** 2)
        var = (4 * (n_codes - 2) * zeta1 + 2 * zeta2) / (n_codes * (n_codes - 1))
        return {"diff": diff, "se": float(np.sqrt(var))}


def paired_tau_se(n_codes: int, reliability: float, tau_a: float, tau_b: float, error_corr: float = 0.5,
                  n_sim: int = 2000, seed: int = 0) -> dict:
    """Expected observed difference and standard error of tau(A, GT) - tau(B, GT) on
    `n_codes` codes, for rankers of true taus `tau_a`, `tau_b`, as {"diff", "se"}.

    Model (per code, all standard normal): truth T; GT = sqrt(R) T + sqrt(1 - R) E_G;
    ranker A = a T + sqrt(1 - a^2) E_A with a = sin(pi/2 tau_a), B likewise, corr(E_A, E_B)
    = `error_corr` (rankers that share their mistakes, e.g. two proxies both fooled by the
    same codes), E_G independent of both. The difference is a U-statistic of degree 2 with
    kernel k = s_G (s_A - s_B), s_X = sign(X_i - X_j), so exactly
        Var = (4 (n - 2) zeta1 + 2 zeta2) / (n (n - 1)),
    zeta2 = Var(k) = 2 - 2 tau_AB - diff^2 (k^2 = (s_A - s_B)^2; tau_AB = (2/pi) asin(corr(A, B))),
    zeta1 = Var(E[k | code i]), which has no closed form (4-variate orthant probabilities):
    it is estimated from one seeded sample of `n_sim` codes drawn from the model (the
    unbiased U-statistic estimate, about 2% precision at 2000), so the result is
    deterministic and valid for any n. diff = observed_tau(tau_a) - observed_tau(tau_b)."""
    if n_codes < 3:
        raise ValueError(f"need at least 3 codes, got {n_codes}")
    return _PairModel(reliability, tau_a, error_corr, n_sim, seed)(n_codes, tau_b)


def resolvable_difference(n_codes: int, reliability: float, tau_level: float, error_corr: float = 0.5,
                          z: float = 2.0, n_sim: int = 2000, seed: int = 0) -> float:
    """The smallest TRUE Kendall-tau difference d between two rankers that a GT of
    reliability R on `n_codes` codes resolves: the observed paired difference reaches z
    standard errors. Ranker A has true tau |tau_level| (a ranker's sign does not change
    its noise), B has |tau_level| - d, their errors correlate `error_corr`.

    Derivation: against the GT each true tau t shows as observed_tau(t) = (2/pi)
    asin(sqrt(R) sin(pi/2 t)), so a true gap d shrinks to diff(d) = observed_tau(A) -
    observed_tau(B) (the attenuation by the GT's reliability); the paired difference's
    SE(d) is that of `paired_tau_se` (the U-statistic variance of tau_A - tau_B on n
    codes, which counts both the shared GT noise and the rankers' correlated errors).
    d solves diff(d) = z SE(d) (Brent's method on the seeded model, so the answer is
    deterministic). math.inf when not even d = 1 + |tau_level| (B at tau -1) is
    resolved, e.g. a GT with R near 0."""
    import math
    from scipy.optimize import brentq
    if n_codes < 3:
        raise ValueError(f"need at least 3 codes, got {n_codes}")
    level = min(1.0, abs(float(tau_level)))
    model = _PairModel(reliability, level, error_corr, n_sim, seed)
    gap = lambda d: (lambda r: r["diff"] - z * r["se"])(model(n_codes, level - d))     # noqa: E731
    d_min, d_max = 1e-4, 1.0 + level     # at d = 0 both diff and SE can be exactly 0
    if gap(d_max) < 0:
        return math.inf
    if gap(d_min) >= 0:
        return d_min
    return float(brentq(gap, d_min, d_max, xtol=1e-4))
