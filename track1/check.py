"""Submission vs ground truth: joined by arch key, codes checked, metrics with intervals."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .candidates import CandidateError, read_official
from .metrics import all_metrics, bootstrap_ci, icc, tau_ceiling


def join(sub: dict, gt: dict, subset: bool = False):
    """(pred, true, keys) paired by key. Every GT key must be in the submission with the same
    code; without `subset`, the submission must not hold other keys either."""
    for k, g in gt.items():
        if k not in sub:
            raise CandidateError(f"GT key '{k}' is missing from the submission")
        if sub[k]["arch"][-51:] != g["arch"][-51:]:
            raise CandidateError(f"key '{k}': submission code {sub[k]['arch']} differs from GT code {g['arch']}")
    if not subset:
        extra = [k for k in sub if k not in gt]
        if extra:
            raise CandidateError(f"submission key '{extra[0]}' is not in the GT file "
                                 f"({len(extra)} extra keys; use --subset to score only the GT's keys)")
    keys = list(gt)
    return np.array([sub[k]["acc"] for k in keys], float), np.array([gt[k]["acc"] for k in keys], float), keys


def check_files(sub_path, gt_path, boot: int = 1000, subset: bool = False, plot: str | None = None) -> dict:
    gt = read_official(gt_path, need_acc=True, what="GT file")
    sub = read_official(sub_path, need_acc=True, what="submission")
    pred, true, keys = join(sub, gt, subset)
    if len(keys) < 3:
        raise CandidateError(f"only {len(keys)} codes joined: need at least 3 for rank correlations")
    if np.ptp(pred) == 0:
        raise CandidateError("submission: every joined score is equal; no ranking to check")
    if np.ptp(true) == 0:
        raise CandidateError("GT file: every joined accuracy is equal; no ranking to check against")
    res = {"n": len(keys), **all_metrics(pred, true)}
    noise = gt_noise(gt_path, keys)
    if noise:
        res["gt_noise"] = noise
    if boot:
        res["ci"] = bootstrap_ci(pred, true, n_boot=boot)
    if plot:
        draw(pred, true, plot, res)
    return res


def gt_noise(gt_path, keys) -> dict | None:
    """How far a perfect ranker gets against this GT on `keys`, from the per-seed values a
    GT file built by tools/gt.py carries (None for a GT without them, e.g. one of
    organisers: the check itself needs only "arch" and "acc")."""
    try:
        raw = json.loads(Path(gt_path).read_text())
        seeds = [[float(v) for v in raw[k]["seeds"].values()] for k in keys]
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    two = np.array([s[:2] for s in seeds if len(s) >= 2])
    if len(two) < 3 or not np.isfinite(two).all():
        return None
    value = icc(two)
    return {"icc": value, "n_repeated": len(two),
            "tau_ceiling": tau_ceiling(value, [max(1, len(s)) for s in seeds])}


def draw(pred, true, path, res):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import rankdata
    fig, ax = plt.subplots(1, 2, figsize=(9, 4))
    ax[0].scatter(true, pred, s=12)
    ax[0].set_xlabel("ground truth accuracy")
    ax[0].set_ylabel("submission score")
    ax[0].set_title(f"|Pearson| {res['pearson_abs']:.3f}")
    ax[1].scatter(rankdata(true), rankdata(pred), s=12)
    ax[1].set_xlabel("true rank")
    ax[1].set_ylabel("predicted rank")
    ax[1].set_title(f"Kendall tau {res['kendall_tau']:.3f}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
