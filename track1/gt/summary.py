"""From results lines to a ground-truth file and the benchmark's headline figures."""
from __future__ import annotations


import numpy as np

from ..metrics import icc, kendall, pearson, spearman, tau_ceiling


def group_runs(runs, metric: str = "acc") -> dict:
    """{arch: {"key", "seeds": {seed: value}, "macs", "params"}} (one protocol assumed)."""
    out = {}
    for r in runs:
        if "diverged" in r:
            continue
        g = out.setdefault(r["arch"], {"key": r.get("key"), "seeds": {}, "macs": r["macs"],
                                       "params": r["params"]})
        if g["key"] is None:
            g["key"] = r.get("key")
        g["seeds"][int(r["seed"])] = float(r[metric])
    return out


def to_gt(runs, metric: str = "acc") -> dict:
    """Official-format GT: {"archK": {"arch", "acc" (mean over seeds), "seeds", "n_seeds"}},
    keyed by the candidate file's keys, in MAC order. "acc" means higher is better to every
    reader (the check, NAR's tiers), so a loss GT stores the negated test loss."""
    sign = -1.0 if metric == "test_loss" else 1.0
    groups = group_runs(runs, metric)
    missing = [a for a, g in groups.items() if not g["key"]]
    if missing:
        raise ValueError(f"runs of {missing[0]} carry no candidate key: train from a candidate JSON file")
    gt = {}
    for arch, g in sorted(groups.items(), key=lambda kv: (kv[1]["macs"], kv[0])):
        vals = [sign * g["seeds"][s] for s in sorted(g["seeds"])]
        gt[g["key"]] = {"arch": arch, "acc": float(np.mean(vals)),
                        "seeds": {str(s): v for s, v in zip(sorted(g["seeds"]), vals)}, "n_seeds": len(vals)}
    return gt


def summarize(runs, seeds=(0, 1)) -> dict:
    """n codes, accuracy range, the noise ceiling (seed-to-seed agreement on the codes
    trained with both `seeds`) and how MACs / params rank against accuracy."""
    out = {"n_runs": len(runs), "n_diverged": sum("diverged" in r for r in runs)}
    for metric in ("acc", "test_loss"):
        groups = group_runs(runs, metric)
        arch = sorted(groups)
        mean = np.array([np.mean(list(groups[a]["seeds"].values())) for a in arch])
        macs = np.array([groups[a]["macs"] for a in arch], float)
        params = np.array([groups[a]["params"] for a in arch], float)
        sign = 1 if metric == "acc" else -1      # low loss = good
        m = {"n_codes": len(arch), "min": float(mean.min()), "max": float(mean.max()),
             "mean": float(mean.mean())}
        if len(arch) >= 3:
            m["tau_macs"] = kendall(macs, sign * mean)
            m["tau_params"] = kendall(params, sign * mean)
        rep = [a for a in arch if all(s in groups[a]["seeds"] for s in seeds)]
        m["n_repeated"] = len(rep)
        if len(rep) >= 3:
            mat = np.array([[groups[a]["seeds"][s] for s in seeds] for a in rep])
            m["seed_tau"] = kendall(mat[:, 0], mat[:, 1])
            m["seed_pearson"] = pearson(mat[:, 0], mat[:, 1])
            m["seed_spearman"] = spearman(mat[:, 0], mat[:, 1])
            m["icc"] = icc(mat)
            m["seed_sd"] = float(np.sqrt(((mat - mat.mean(1, keepdims=True)) ** 2).sum() / (len(rep) * (len(seeds) - 1))))
            m["code_sd"] = float(mat.mean(1).std(ddof=1))
            m["tau_ceiling"] = {str(k): tau_ceiling(m["icc"], k) for k in (1, 2)}
        out[metric] = m
    out["wall_s_mean"] = float(np.mean([r["wall_s"] for r in runs if "wall_s" in r]))
    return out


def format_summary(s: dict) -> str:
    lines = [f"runs: {s['n_runs']}, mean wall time per run: {s['wall_s_mean']:.0f} s"
             + (f", {s['n_diverged']} diverged (left out)" if s.get("n_diverged") else "")]
    for metric in ("acc", "test_loss"):
        m = s[metric]
        line = (f"{metric}: {m['n_codes']} codes, range {m['min']:.4f}..{m['max']:.4f}")
        if "tau_macs" in m:
            line += f", tau(MACs) {m['tau_macs']:+.3f}, tau(params) {m['tau_params']:+.3f}"
        if "seed_tau" in m:
            line += (f"; noise ceiling on {m['n_repeated']} repeated codes: seed tau {m['seed_tau']:.3f}, "
                     f"Pearson {m['seed_pearson']:.3f}, ICC {m['icc']:.3f}, seed sd {m['seed_sd']:.4f}, "
                     f"between-code sd {m['code_sd']:.4f}; tau a perfect ranker reaches vs a GT of 1 / 2 seeds: "
                     f"{m['tau_ceiling']['1']:.3f} / {m['tau_ceiling']['2']:.3f}")
        lines.append(line)
    return "\n".join(lines)
