"""Submission vs ground truth: joined by arch key, codes checked, metrics with intervals, and
what the GT's own noise allows one to conclude; two submissions compared on the same GT."""
from __future__ import annotations

import json
import math
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .candidates import CandidateError, read_official
from .metrics import (PAIRED_KEYS, all_metrics, beyond_capacity, beyond_capacity_interval, bootstrap_ci,
                      disattenuate, disattenuate_tau, gt_reliability, icc, paired_bootstrap,
                      resolvable_difference, tau_ceiling, verdict, versus_a_second_run)
from .space import CodeError

# The resolvable difference assumes two rankers whose mistakes correlate this much (two
# strategies of one supernet share most of them; 0 would flatter the GT).
ERROR_CORR = 0.5
RESOLVE_Z = 2.0


def join(sub: dict, gt: dict, space, subset: bool = False, what: str = "submission"):
    """(pred, true, keys) paired by key. Every GT key must be in the submission with the same
    code (compared in full, in canonical form: the 51- and 52-char forms of one code agree,
    an image-size char that differs does not); without `subset`, the submission must not
    hold other keys either."""

    def canon(code, whose, key):
        try:
            return space.canonical(code)
        except CodeError as e:
            raise CandidateError(f"{whose}: entry '{key}': {e}") from None

    for k, g in gt.items():
        if k not in sub:
            raise CandidateError(f"GT key '{k}' is missing from the {what}")
        if canon(sub[k]["arch"], what, k) != canon(g["arch"], "GT file", k):
            raise CandidateError(f"key '{k}': {what} code {sub[k]['arch']} differs from GT code {g['arch']}")
    if not subset:
        extra = [k for k in sub if k not in gt]
        if extra:
            raise CandidateError(f"{what} key '{extra[0]}' is not in the GT file "
                                 f"({len(extra)} extra keys; use --subset to score only the GT's keys)")
    keys = list(gt)
    return np.array([sub[k]["acc"] for k in keys], float), np.array([gt[k]["acc"] for k in keys], float), keys


class CheckResult(dict):
    """The check's figures (a plain JSON-able dict) plus the joined values, so the plot can
    be drawn after the figures are printed: a bad --plot path must not lose them."""

    def __init__(self, pred, true, **figures):
        super().__init__(**figures)
        self._pred, self._true = pred, true

    def plot(self, path):
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            draw(self._pred, self._true, path, self)
        except (OSError, ValueError) as e:       # ValueError: an extension matplotlib cannot write
            raise CandidateError(f"--plot '{path}': cannot write the figure "
                                 f"({getattr(e, 'strerror', None) or e})") from None


@contextmanager
def _quiet():
    """No numpy/scipy warning lines on stderr: a bad input must cost one line, not five."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _check_finite(figures: dict, what: str):
    bad = [k for k, v in figures.items() if not math.isfinite(v)]
    if bad:
        raise CandidateError(f"{what}: {bad[0]} is not finite (the scores defeat float64 arithmetic; rescale them)")


def _load_pair(sub_path, gt_path, subset, space, what):
    gt = read_official(gt_path, space, need_acc=True, what="GT file")
    sub = read_official(sub_path, space, need_acc=True, what=what)
    pred, true, keys = join(sub, gt, space, subset, what)
    if len(keys) < 3:
        raise CandidateError(f"only {len(keys)} codes joined: need at least 3 for rank correlations")
    if np.ptp(pred) == 0:
        raise CandidateError(f"{what}: every joined score is equal; no ranking to check")
    if np.ptp(true) == 0:
        raise CandidateError("GT file: every joined accuracy is equal; no ranking to check against")
    return pred, true, keys, gt


def _check_boot(boot, least: int):
    if boot < least:
        why = "0 = no intervals" if least == 0 else "the verdict is a bootstrap interval"
        raise CandidateError(f"--boot must be at least {least} ({why}), got {boot}")


def check_files(sub_path, gt_path, space, boot: int = 1000, subset: bool = False, cost=None) -> CheckResult:
    """The leaderboard figures of one submission against a GT, with bootstrap intervals, and,
    for a GT with per-seed values, its noise statistics (`gt_noise`, `noise_figures`). Every
    code is validated against `space` (the official candidates' sub-space: fashion_mnist's).
    With `cost` (code -> {"macs", "params"}): what the submission knows beyond capacity
    (`beyond_capacity`, the partial Spearman given MACs and params, with its interval)."""
    _check_boot(boot, 0)
    pred, true, keys, gt = _load_pair(sub_path, gt_path, subset, space, "submission")
    with _quiet():
        figures = all_metrics(pred, true)
        _check_finite(figures, "submission")
        res = CheckResult(pred, true, n=len(keys), **figures)
        noise = gt_noise(gt_path, keys)
        if noise:
            res["gt_noise"] = {**noise, **noise_figures(noise, len(keys), res["kendall_tau"], res["pearson_abs"])}
            second = second_run(pred, seed_values(gt_path, keys), boot)
            if second:
                res["gt_noise"]["second_run"] = second
        if boot:
            res["ci"] = bootstrap_ci(pred, true, n_boot=boot)
        if cost is not None:
            c = [cost(gt[k]["arch"]) for k in keys]
            macs, params = [x["macs"] for x in c], [x["params"] for x in c]
            res["beyond_capacity"] = {"partial_spearman": beyond_capacity(pred, true, macs, params),
                                      "ci": beyond_capacity_interval(pred, true, macs, params, boot) if boot else None}
    return res


def seed_values(gt_path, keys) -> list | None:
    """Each key's per-seed values, as a GT file built by tools/gt.py carries them ("seeds");
    None for a GT without them (e.g. one of the organisers': the check needs only "arch" and
    "acc")."""
    try:
        raw = json.loads(Path(gt_path).read_text())
        return [[float(v) for v in raw[k]["seeds"].values()] for k in keys]
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def gt_noise(gt_path, keys) -> dict | None:
    """How far a perfect ranker gets against this GT on `keys`, from the per-seed values a
    GT file built by tools/gt.py carries (None for a GT without them, e.g. one of
    organisers: the check itself needs only "arch" and "acc"). The reliability is that of
    the GT's values (means of each code's seeds), from the per-run ICC of the codes run
    at least twice (their first two seeds)."""
    seeds = seed_values(gt_path, keys)
    if seeds is None:
        return None
    two = np.array([s[:2] for s in seeds if len(s) >= 2])
    if len(two) < 3 or not np.isfinite(two).all():
        return None
    with _quiet():
        value = icc(two)
    if not math.isfinite(value):            # seeds that are all equal, or overflow
        return None
    per_code = [max(1, len(s)) for s in seeds]
    return {"icc": value, "n_repeated": len(two), "tau_ceiling": tau_ceiling(value, per_code),
            "reliability": gt_reliability(value, per_code)}


# Fewer codes run twice than this make the comparison with a second run noise.
SECOND_RUN_MIN_CODES = 8


def second_run(pred, seeds, boot: int) -> dict | None:
    """A ranking (or several: rows, e.g. a supernet's seeds) against one stand-alone run of each
    code, beside a second run of the same codes as the ranker (`metrics.versus_a_second_run`,
    on the codes run twice); `seeds`: each code's per-seed values (`seed_values`, None for a GT
    without them). None for a GT with too few such codes, or with nothing to rank on them."""
    two = [i for i, x in enumerate(seeds or []) if len(x) >= 2]
    if len(two) < SECOND_RUN_MIN_CODES:
        return None
    mat = np.array([seeds[i][:2] for i in two])
    preds = np.atleast_2d(np.asarray(pred, float))[:, two]
    if min(np.ptp(mat, 0)) == 0 or min(np.ptp(preds, 1)) == 0:
        return None
    return versus_a_second_run(preds, mat, boot)


def noise_figures(noise: dict, n: int, tau_obs: float, pearson_abs: float | None = None) -> dict:
    """What the GT's reliability R makes of a ranker's figures: tau and |Pearson| with the
    noise-free values (disattenuated; only when `pearson_abs` is given), and the smallest
    true tau difference between two rankers at this ranker's (disattenuated) level that
    the GT resolves at 2 SE. With R = 0 there is nothing to correct by and nothing
    resolvable: None."""
    r = noise["reliability"]
    out = {} if pearson_abs is None else {"disattenuated": None}
    if r <= 0:
        return {**out, "resolvable_tau_difference": None}
    tau = disattenuate_tau(tau_obs, r)
    if pearson_abs is not None:
        out["disattenuated"] = {"kendall_tau": tau, "pearson_abs": disattenuate(pearson_abs, r)}
    d = resolvable_difference(n, r, tau, ERROR_CORR, RESOLVE_Z)
    return {**out, "resolvable_tau_difference": d if math.isfinite(d) else None,
            "resolvable_at": {"tau_level": abs(tau), "z": RESOLVE_Z, "error_corr": ERROR_CORR}}


def compare_files(a_path, b_path, gt_path, space, boot: int = 2000, subset: bool = False) -> dict:
    """Two submissions on one GT: a paired bootstrap over the GT's codes (one resample, both
    submissions) of the differences A - B in Kendall tau, |Pearson| and Spearman, each with
    a 95% interval and a verdict; the overall verdict is Kendall tau's (board B)."""
    _check_boot(boot, 1)
    pred_a, true, keys, _ = _load_pair(a_path, gt_path, subset, space, "submission A")
    pred_b, _, _, _ = _load_pair(b_path, gt_path, subset, space, "submission B")   # every GT key: same order
    with _quiet():
        for what, pred in (("submission A", pred_a), ("submission B", pred_b)):
            _check_finite(all_metrics(pred, true), what)
        metrics = paired_bootstrap(pred_a, pred_b, true, n_boot=boot)
        for m in metrics.values():
            m["verdict"] = verdict(m["ci"])
        res = {"a": str(a_path), "b": str(b_path), "n": len(keys), "boot": boot, "metrics": metrics,
               "verdict": metrics["kendall_tau"]["verdict"]}
        noise = gt_noise(gt_path, keys)
        if noise:
            # resolvable at the better one's level: how far apart the pair would have to be
            best = max(metrics["kendall_tau"]["a"], metrics["kendall_tau"]["b"], key=abs)
            res["gt_noise"] = {**noise, **noise_figures(noise, len(keys), best)}
    return res


LABELS = {"kendall_tau": "Kendall tau", "pearson_abs": "|Pearson|", "spearman": "Spearman"}


def format_check(res: dict) -> str:
    ci = res.get("ci", {})

    def fmt(k):
        lo_hi = ci.get(k)
        return f"{res[k]:.4f}" + (f"  [{lo_hi[0]:.4f}, {lo_hi[1]:.4f}]" if lo_hi else "")

    lines = [f"n = {res['n']} codes joined by key",
             f"board A |Pearson|   {fmt('pearson_abs')}",
             f"board B Kendall tau {fmt('kendall_tau')}",
             f"Spearman            {fmt('spearman')}",
             f"top-5% precision    {fmt('top5pct')}",
             f"top-10% precision   {fmt('top10pct')}"]
    if "beyond_capacity" in res:
        b = res["beyond_capacity"]
        ci = f"  [{b['ci'][0]:+.4f}, {b['ci'][1]:+.4f}]" if b["ci"] else ""
        lines.append(f"beyond capacity     {b['partial_spearman']:+.4f}{ci}  (partial Spearman given MACs and "
                     f"params: FLOPs itself scores 0)")
    if "gt_noise" in res:
        lines += _format_noise(res["gt_noise"])
    return "\n".join(lines)


def _format_noise(g: dict) -> list:
    lines = [f"GT noise: per-run ICC {g['icc']:.3f} on {g['n_repeated']} codes run twice; "
             f"a perfect ranker reaches tau ~{g['tau_ceiling']:.3f} against this GT",
             f"GT reliability {g['reliability']:.3f} (its squared correlation with the noise-free values: "
             f"the ICC over its seeds per code)"]
    if g["reliability"] <= 0:
        return lines + ["no reliable signal in the GT: nothing to disattenuate, no difference between "
                        "rankers can be resolved"]
    if g.get("disattenuated"):
        d = g["disattenuated"]
        lines.append(f"disattenuated (vs the noise-free values): Kendall tau {d['kendall_tau']:.3f}, "
                     f"|Pearson| {d['pearson_abs']:.3f}")
    if g.get("second_run"):
        v = g["second_run"]
        ci = f" [{v['ci'][0]:+.3f}, {v['ci'][1]:+.3f}]" if v["ci"] else ""
        lines.append(f"against one run ({v['n_codes']} codes run twice): Kendall tau {v['tau']:.3f}; a second "
                     f"stand-alone run of each code scores {v['second_run']:.3f}; difference {v['diff']:+.3f}{ci}")
    at = g["resolvable_at"]
    what = (f"a true tau difference of {g['resolvable_tau_difference']:.3f}"
            if g["resolvable_tau_difference"] is not None else "no tau difference at all")
    lines.append(f"resolvable: this GT tells two rankers apart at {at['z']:g} SE from {what} "
                 f"(at true tau {at['tau_level']:.3f}, ranker errors correlated {at['error_corr']:g})")
    return lines


def format_compare(res: dict) -> str:
    lines = [f"A = {res['a']}", f"B = {res['b']}",
             f"n = {res['n']} codes joined by key, {res['boot']} paired resamples",
             f"{'':13}{'A':>8}{'B':>9}{'A - B':>10}   95% interval        verdict"]
    for k in PAIRED_KEYS:
        m = res["metrics"][k]
        ci = f"[{m['ci'][0]:+.4f}, {m['ci'][1]:+.4f}]" if m["ci"] else "(no resample)"
        lines.append(f"{LABELS[k]:13}{m['a']:8.4f} {m['b']:8.4f} {m['diff']:+9.4f}   {ci:20}{m['verdict']}")
    lines.append(f"verdict (board B, Kendall tau): {res['verdict']}")
    if "gt_noise" in res:
        lines += _format_noise(res["gt_noise"])
    return "\n".join(lines)


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
    try:
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
