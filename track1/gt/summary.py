"""From results lines to a ground-truth file and the benchmark's headline figures: how
reliable each test metric is, and whether it holds any signal beyond capacity."""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np

from ..candidates import CandidateError
from ..metrics import (gt_reliability, icc, icc_interval, kendall, paired_icc_difference, pearson, residual_icc,
                       residual_icc_interval, resolvable_difference, second_run_beside_capacity, spearman,
                       tau_ceiling, verdict)
from ..standalone.predictions import disagreement

# Every test metric a stand-alone run can record (tools/train_standalone.py): last iterate
# and tail weight average, plain and flip-averaged. Losses are low-is-good.
METRICS = ("acc", "test_loss", "acc_flip", "test_loss_flip", "acc_avg", "test_loss_avg", "acc_avg_flip",
           "test_loss_avg_flip")
REQUIRED = ("arch", "seed", "macs", "params")
# Per-image predicted classes of a run, and what they are the predictions of.
PREDICTIONS = {"pred": "last iterate", "pred_avg": "weight average"}
# A residual ICC below this is no usable signal even when its interval misses 0: a ranker
# that knew all of it would gain less than what one code's noise shifts a tau by.
RESIDUAL_FLOOR = 0.05
# The capacity fit takes 3 degrees of freedom of the code means; on fewer codes than this the
# residual between-code mean square (and its bootstrap, whose resamples repeat codes) is noise.
RESIDUAL_MIN_CODES = 10


def higher_is_better(metric: str) -> bool:
    return not metric.startswith("test_loss")


def load_runs(path, warn=lambda msg: None) -> list:
    """The records of a results file (JSONL of tools/train_standalone.py), validated: one
    line naming the file (and line) for a directory, binary data, a line that is not a
    JSON object, a record without its fields, mixed protocols. A torn last line (no
    newline: an interrupted append) is dropped and said through `warn`."""
    path = Path(path)
    if path.is_dir():
        raise CandidateError(f"'{path}' is a directory, not a results file")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CandidateError(f"'{path}': {e.strerror or e}") from None
    try:
        text = raw.decode()
    except UnicodeDecodeError as e:
        raise CandidateError(f"'{path}' is not a text file (byte {raw[e.start]:#04x} at offset {e.start} "
                             "is not UTF-8): not a results file") from None
    lines = text.split("\n")
    if lines[-1].strip():
        warn(f"'{path}': 1 torn line skipped (the last line has no newline: an interrupted write)")
    runs = []
    for i, line in enumerate(lines[:-1], 1):
        if line.strip():
            runs.append(_record(path, i, line))
    if not runs:
        raise CandidateError(f"'{path}' holds no results")
    protocols = sorted({str(r.get("protocol")) for _, r in runs})
    if len(protocols) > 1:
        raise CandidateError(f"'{path}' mixes protocols {protocols}")
    return [r for _, r in runs]


def _record(path, i, line):
    where = f"'{path}' line {i}"
    try:
        r = json.loads(line)
    except (ValueError, RecursionError):
        raise CandidateError(f"{where}: not valid JSON") from None
    if not isinstance(r, dict):
        raise CandidateError(f"{where}: a JSON {type(r).__name__}, expected an object "
                             "(a result line of tools/train_standalone.py)")
    lack = [k for k in REQUIRED if k not in r] or [k for k in METRICS[:2] if k not in r and "diverged" not in r]
    if lack:
        raise CandidateError(f"{where}: not a result line of tools/train_standalone.py (no '{lack[0]}')")
    for k in ("macs", "params", *METRICS):
        v = r.get(k)
        if k in r and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                       or (k in ("macs", "params") and v <= 0)):
            raise CandidateError(f"{where}: '{k}' must be a finite{' positive' if k in ('macs', 'params') else ''} "
                                 f"number, got {v!r}")
    if isinstance(r["seed"], bool) or not isinstance(r["seed"], int):
        raise CandidateError(f"{where}: 'seed' must be an integer, got {r['seed']!r}")
    return i, r


def group_runs(runs, metric: str = "acc") -> dict:
    """{arch: {"key", "seeds": {seed: value}, "macs", "params"}} (one protocol assumed) of
    the runs that recorded `metric` (diverged runs recorded nothing)."""
    out = {}
    for r in runs:
        if "diverged" in r or metric not in r:
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
    if metric not in METRICS:
        raise CandidateError(f"unknown metric '{metric}': choose one of {', '.join(METRICS)}")
    lacking = next((r for r in runs if "diverged" not in r and metric not in r), None)
    if lacking is not None:
        raise CandidateError(f"the run of {lacking['arch']} seed {lacking['seed']} has no '{metric}' "
                             "(these runs were trained without it)")
    sign = 1.0 if higher_is_better(metric) else -1.0
    groups = group_runs(runs, metric)
    missing = [a for a, g in groups.items() if not g["key"]]
    if missing:
        raise CandidateError(f"runs of {missing[0]} carry no candidate key: train from a candidate JSON file")
    gt = {}
    for arch, g in sorted(groups.items(), key=lambda kv: (kv[1]["macs"], kv[0])):
        if g["key"] in gt:
            raise CandidateError(f"key '{g['key']}' names two codes, {gt[g['key']]['arch']} and {arch}: the runs "
                                 "come from candidate files that disagree")
        vals = [sign * g["seeds"][s] for s in sorted(g["seeds"])]
        gt[g["key"]] = {"arch": arch, "acc": float(np.mean(vals)),
                        "seeds": {str(s): v for s, v in zip(sorted(g["seeds"]), vals)}, "n_seeds": len(vals)}
    return gt


def metric_summary(groups: dict, metric: str, seeds=(0, 1), n_boot: int = 2000) -> dict:
    """One metric's figures: range; tau of MACs and params against it; on the codes run with
    both `seeds`: seed-to-seed agreement, single-seed ICC [bootstrap 95%], within- and
    between-code sd, the noise ceiling, and the residual ICC beyond log MACs + log params."""
    arch = sorted(groups)
    mean = np.array([np.mean(list(groups[a]["seeds"].values())) for a in arch])
    macs = np.array([groups[a]["macs"] for a in arch], float)
    params = np.array([groups[a]["params"] for a in arch], float)
    sign = 1 if higher_is_better(metric) else -1      # tau of capacity with "good"
    rep = [a for a in arch if all(s in groups[a]["seeds"] for s in seeds)]
    m = {"n_codes": len(arch), "min": float(mean.min()), "max": float(mean.max()), "mean": float(mean.mean()),
         "n_repeated": len(rep)}
    if len(arch) < 3:
        return m
    if np.ptp(mean) == 0:              # nothing to rank (e.g. a metric a broken run pinned)
        return {**m, "constant": True}
    if min(np.ptp(macs), np.ptp(params)) > 0:
        m["tau_macs"] = kendall(macs, sign * mean)
        m["tau_params"] = kendall(params, sign * mean)
    if len(rep) < 3:
        return m
    mat = np.array([[groups[a]["seeds"][s] for s in seeds] for a in rep])
    if min(np.ptp(mat, 0)) == 0:        # one seed constant: no seed-to-seed figures
        return {**m, "constant": True}
    k = len(seeds)
    msw = ((mat - mat.mean(1, keepdims=True)) ** 2).sum() / (len(rep) * (k - 1))
    m.update(seed_tau=kendall(mat[:, 0], mat[:, 1]), seed_pearson=pearson(mat[:, 0], mat[:, 1]),
             seed_spearman=spearman(mat[:, 0], mat[:, 1]), icc=icc(mat), icc_ci=icc_interval(mat, n_boot),
             seed_sd=float(np.sqrt(msw)), code_sd=float(mat.mean(1).std(ddof=1)))
    # The true between-code sd: the code means' variance less the noise they still carry.
    m["between_sd"] = float(np.sqrt(max(0.0, mat.mean(1).var(ddof=1) - msw / k)))
    m["tau_ceiling"] = {str(j): tau_ceiling(m["icc"], j) for j in (1, 2)}
    if len(rep) >= RESIDUAL_MIN_CODES:
        cap = ([groups[a]["macs"] for a in rep], [groups[a]["params"] for a in rep])
        m["residual_icc"] = residual_icc(mat, *cap)
        m["residual_icc_ci"] = residual_icc_interval(mat, *cap, n_boot=n_boot)
        ci = m["residual_icc_ci"]
        m["beyond_capacity"] = bool(m["residual_icc"] >= RESIDUAL_FLOOR and ci is not None and ci[0] > 0)
        m["second_run"] = second_run_beside_capacity(sign * mat, cap[0], n_boot)
    return m


def seed_disagreement(runs, field: str, seeds=(0, 1)) -> dict | None:
    """Mean share of test images on which two seeds of a code predict different classes,
    over the codes whose runs with both `seeds` carry `field` (None when none do)."""
    by = {(r["arch"], int(r["seed"])): r[field] for r in runs if field in r and "diverged" not in r}
    rates = []
    for arch in sorted({a for a, _ in by}):
        if all((arch, s) in by for s in seeds):
            try:
                rates.append(disagreement(by[(arch, seeds[0])], by[(arch, seeds[1])]))
            except (ValueError, TypeError, AttributeError) as e:
                raise CandidateError(f"runs of {arch}: '{field}' is not a label array of "
                                     f"track1.standalone.predictions ({e})") from None
    return {"mean": float(np.mean(rates)), "n_codes": len(rates)} if rates else None


def mean_wall(runs) -> float | None:
    """The mean recorded cost of a run (seconds of one worker), None if none is recorded."""
    walls = [r["wall_s"] for r in runs if isinstance(r.get("wall_s"), (int, float))]
    return float(np.mean(walls)) if walls else None


def cpu_time(runs) -> dict | None:
    """The mean CPU and wall time of the runs that record both (`cpu_s`, from 2026-12-03;
    None if none does): a pause (`kill -STOP`) inflates the wall time, not the CPU time."""
    both = [r for r in runs if isinstance(r.get("cpu_s"), (int, float)) and isinstance(r.get("wall_s"), (int, float))]
    if not both:
        return None
    return {"n_runs": len(both), "cpu_s_mean": float(np.mean([r["cpu_s"] for r in both])),
            "wall_s_mean": mean_wall(both)}


def machines(runs) -> list:
    """[(cpu, n runs)], most runs first: the same code and seed give other values on a CPU
    whose oneDNN kernels differ (AVX2 against AVX-512; BENCHMARKS.md, "Runs on several
    machines"), so a GT says what it was computed on. Runs from before `cpu` was recorded
    count as "not recorded"."""
    n = Counter(r.get("cpu") or "not recorded" for r in runs)
    return sorted(n.items(), key=lambda kv: (-kv[1], kv[0]))


def codes_on_several_machines(runs) -> int:
    """How many codes have runs recorded on more than one CPU (a code's mean then mixes two
    roundings; runs that record none count as one machine)."""
    cpus = {}
    for r in runs:
        cpus.setdefault(r["arch"], set()).add(r.get("cpu") or "not recorded")
    return sum(len(c) > 1 for c in cpus.values())


def summarize(runs, seeds=(0, 1), n_boot: int = 2000) -> dict:
    """n codes, the figures of every metric the runs recorded (`metric_summary`), the seeds'
    per-image disagreement where predictions were recorded, and the mean cost per run."""
    if len(seeds) != 2 or seeds[0] == seeds[1]:
        raise CandidateError(f"the seed-to-seed figures need two different seeds, got {list(seeds)}")
    out = {"n_runs": len(runs), "n_diverged": sum("diverged" in r for r in runs),
           "wall_s_mean": mean_wall(runs), "cpu_time": cpu_time(runs), "machines": machines(runs),
           "codes_on_several_machines": codes_on_several_machines(runs), "seeds": list(seeds), "metrics": []}
    for metric in METRICS:
        groups = group_runs(runs, metric)
        if groups:
            out[metric] = metric_summary(groups, metric, seeds, n_boot)
            out["metrics"].append(metric)
    dis = {f: d for f in PREDICTIONS if (d := seed_disagreement(runs, f, seeds))}
    if dis:
        out["disagreement"] = dis
    return out


# The GT design a budget buys (issue 17): 40% of its codes with a second seed, two rankers
# near tau 0.5 (where the supernets and FLOPs sit) whose mistakes correlate 0.5.
POWER_REPEATED, POWER_TAU = 0.4, 0.5


def power_at_budget(s: dict, core_hours: float, run_seconds: float | None = None) -> dict:
    """{"core_hours", "run_seconds" (the cost used), "metrics": {metric: {"n_codes",
    "reliability", "resolvable"}}}: the codes `core_hours` of one-core
    runs at this protocol's mean cost afford (a share POWER_REPEATED of them run twice), the
    reliability of their GT values, and the smallest true tau difference between two rankers
    that GT resolves at 2 SE. A dearer protocol buys fewer codes; this says whether its
    reliability pays for them. `run_seconds`: the cost per run measured elsewhere (the
    recorded wall times of runs made under different loads do not compare)."""
    if run_seconds is not None and run_seconds <= 0:
        raise CandidateError(f"--run-seconds must be positive, got {run_seconds:g}")
    cost = run_seconds if run_seconds is not None else s.get("wall_s_mean")
    if not cost:
        raise CandidateError("--budget-hours: the runs record no wall time (wall_s) and no --run-seconds was "
                             "given, so their cost is unknown")
    if core_hours <= 0:
        raise CandidateError(f"--budget-hours must be positive, got {core_hours}")
    n = int(core_hours * 3600 / (cost * (1 + POWER_REPEATED)))
    out = {}
    for metric in s["metrics"]:
        m = s[metric]
        if "icc" not in m or n < 3:
            continue
        k = np.where(np.arange(n) < round(POWER_REPEATED * n), 2, 1)
        rel = gt_reliability(m["icc"], k)
        out[metric] = {"n_codes": n, "reliability": rel,
                       "resolvable": resolvable_difference(n, rel, POWER_TAU) if rel > 0 else math.inf}
    return {"core_hours": core_hours, "run_seconds": cost, "metrics": out}


def compare_protocols(path_a, path_b, seeds=(0, 1), n_boot: int = 2000, warn=lambda msg: None) -> dict:
    """Two protocols' results on the codes both ran with both `seeds`: per metric recorded by
    both, the single-seed ICCs and their paired difference A - B with a 95% interval (the
    issue's "every comparison is paired"), and the mean cost per run of each."""
    runs = {w: load_runs(p, warn) for w, p in (("a", path_a), ("b", path_b))}
    out = {"a": str(path_a), "b": str(path_b), "metrics": {}}
    for w, rs in runs.items():
        out[f"wall_s_{w}"] = mean_wall(rs)
    for metric in METRICS:
        ga, gb = group_runs(runs["a"], metric), group_runs(runs["b"], metric)
        both = sorted(c for c in set(ga) & set(gb) if all(s in ga[c]["seeds"] and s in gb[c]["seeds"] for s in seeds))
        if len(both) < 3:
            continue
        mat = [np.array([[g[c]["seeds"][s] for s in seeds] for c in both]) for g in (ga, gb)]
        d = paired_icc_difference(*mat, n_boot=n_boot)
        out["metrics"][metric] = {"n_codes": len(both), **d, "verdict": verdict(d["ci"])}
    if not out["metrics"]:
        raise CandidateError(f"'{path_a}' and '{path_b}' share fewer than 3 codes run with seeds "
                             f"{seeds[0]} and {seeds[1]}: nothing to compare")
    return out


def format_compare(c: dict) -> str:
    cost = lambda w: f"{w:.0f} s" if w else "not recorded"  # noqa: E731
    lines = [f"A = {c['a']} (mean {cost(c['wall_s_a'])} per run)", f"B = {c['b']} (mean {cost(c['wall_s_b'])} per run)",
             f"{'metric':20}{'codes':>6}{'ICC A':>8}{'ICC B':>8}{'A - B':>8}   95% paired interval  verdict"]
    for metric, m in c["metrics"].items():
        ci = f"[{m['ci'][0]:+.3f}, {m['ci'][1]:+.3f}]" if m["ci"] else ""
        lines.append(f"{metric:20}{m['n_codes']:6d}{m['a']:8.3f}{m['b']:8.3f}{m['diff']:+8.3f}   {ci:18}  {m['verdict']}")
    return "\n".join(lines)


def summary_file(path, seeds=(0, 1), n_boot: int = 2000, warn=lambda msg: None, budget_hours=None,
                 codes=None, run_seconds=None) -> dict:
    """`summarize` of a results file (`load_runs`), with `power_at_budget` if a budget is
    given; `codes` (an official-format file): only the runs of its codes, so that two
    protocols' files are compared on the same codes (paired)."""
    if n_boot < 1:
        raise CandidateError(f"--boot must be at least 1 (the ICCs' intervals), got {n_boot}")
    runs = load_runs(path, warn)
    if codes is not None:
        from ..candidates import read_official
        from ..space import body
        wanted = {body(e["arch"]) for e in read_official(codes, what="--codes file").values()}
        runs = [r for r in runs if body(r["arch"]) in wanted]
        if not runs:
            raise CandidateError(f"'{path}' holds no run of the codes in --codes file '{codes}'")
    s = summarize(runs, tuple(seeds), n_boot)
    if codes is not None:
        s["codes_file"] = str(codes)
    if budget_hours is not None:
        s["power"] = power_at_budget(s, budget_hours, run_seconds)
    return s


def _ci(ci) -> str:
    return f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else ""


def format_summary(s: dict) -> str:
    cost = f"{s['wall_s_mean']:.0f} s" if s.get("wall_s_mean") is not None else "not recorded"
    lines = [f"runs: {s['n_runs']}" + (f" (the codes of {s['codes_file']})" if "codes_file" in s else "")
             + f", mean wall time per run: {cost}"
             + (f" (the {c['n_runs']} that record CPU time: {c['cpu_s_mean']:.0f} s CPU, {c['wall_s_mean']:.0f} s wall)"
                if (c := s.get("cpu_time")) else "")
             + (f", {s['n_diverged']} diverged (left out)" if s.get("n_diverged") else "")]
    if s.get("machines"):
        mixed = s.get("codes_on_several_machines", 0)
        lines.append("computed on: " + "; ".join(f"{cpu} ({n})" for cpu, n in s["machines"])
                     + (f"; {mixed} codes have runs on more than one" if mixed else ""))
    seeds = s.get("seeds", [0, 1])
    flat = []
    for metric in s.get("metrics", ("acc", "test_loss")):
        m = s[metric]
        line = f"{metric}: {m['n_codes']} codes, range {m['min']:.4f}..{m['max']:.4f}"
        if "tau_macs" in m:
            line += f", tau(MACs) {m['tau_macs']:+.3f}, tau(params) {m['tau_params']:+.3f}"
        lines.append(line)
        if m.get("constant"):
            lines.append("  constant over the codes (or over one seed of the repeated ones): no noise figures")
            continue
        if "seed_tau" not in m:
            lines.append(f"  too few codes for noise figures ({m['n_repeated']} run with seeds {seeds[0]} and {seeds[1]}, "
                         "need 3)")
            continue
        lines += [f"  {m['n_repeated']} codes run twice: single-seed ICC {m['icc']:.3f}{_ci(m.get('icc_ci'))}, "
                  f"seed-to-seed tau {m['seed_tau']:.3f}, Pearson {m['seed_pearson']:.3f}",
                  f"  within-code sd {m['seed_sd']:.4f}, between-code sd {m['between_sd']:.4f} (sd of the code "
                  f"means {m['code_sd']:.4f}); a perfect ranker reaches tau {m['tau_ceiling']['1']:.3f} / "
                  f"{m['tau_ceiling']['2']:.3f} vs a GT of 1 / 2 seeds"]
        if "residual_icc" in m:
            lines.append(f"  residual ICC beyond log MACs + log params {m['residual_icc']:.3f}"
                         f"{_ci(m['residual_icc_ci'])}")
            if not m["beyond_capacity"]:
                flat.append(metric)
        else:
            lines.append(f"  residual ICC beyond log MACs + log params: needs {RESIDUAL_MIN_CODES} codes run twice")
        if "second_run" in m:
            c, b = m["second_run"]["macs"], m["second_run"]["blend_minus_macs"]
            lines.append(f"  a second run of every code as the ranker (each seed ranks the other): tau {c['second_run']:.3f}; "
                         f"MACs {c['tau']:.3f}, {c['diff']:+.3f}{_ci(c['ci'])} over it; the run rank-averaged with MACs "
                         f"{m['second_run']['blend']:.3f}, {b['diff']:+.3f}{_ci(b['ci'])} over MACs")
            if c["ci"] is not None and c["ci"][1] >= 0 and b["ci"] is not None and b["ci"][0] <= 0:
                lines.append("  not even a stand-alone run of every code, alone or beside MACs, is shown above MACs "
                             "against one seed of this GT: a ranker must know accuracy better than a training does")
    for field, d in s.get("disagreement", {}).items():
        lines.append(f"per-image predictions ({PREDICTIONS[field]}, '{field}'): two seeds of a code disagree on "
                     f"{100 * d['mean']:.2f}% of the test images ({d['n_codes']} codes)")
    if "power" in s:
        pw = s["power"]
        lines.append(f"at {pw['core_hours']:g} core-hours of runs like these ({pw['run_seconds']:.0f} s each; "
                     f"{100 * POWER_REPEATED:.0f}% of the codes "
                     f"run twice; two rankers near tau {POWER_TAU}, errors correlated 0.5):")
        for metric, p in pw["metrics"].items():
            lines.append(f"  {metric}: {p['n_codes']} codes, GT reliability {p['reliability']:.3f}, resolves a true "
                         f"tau difference of {p['resolvable']:.3f} at 2 SE")
    if flat:
        lines.append(f"no ranker can be shown to know more than FLOPs/params on this GT by {', '.join(flat)} "
                     f"(residual ICC below {RESIDUAL_FLOOR} or its interval includes 0)")
    return "\n".join(lines)
