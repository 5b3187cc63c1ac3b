"""The ranking benchmark's table (issue 5): every kept score file of
`benchmarks/rank_strategies.sh` checked against the GT of the moment.

    python benchmarks/rank_report.py [--gt GT] [--dir benchmarks/results/rank] [--boot 2000] [--out R.jsonl]
                                     [--blend PROXY] [--ranking ranking.json] [--common] [--codes FILE]
                                     [--pairs A:B ...]

Every ranker is compared on the same codes: all of the GT's. A score file that lacks some of
them (kept from before the GT grew) is left out, and the report names it; --common instead
restricts the GT to the codes every score file holds (and says how many). --codes FILE (an
official-format code file) restricts it to that file's codes: a held-out test on codes that no
choice was tuned on (e.g. the extension's codes_ext.json, "The test on held-out codes").
--pairs A:B ... prints the paired difference A - B of mean tau with its interval and verdict for each
pair named in advance (the held-out test's comparisons: benchmarks/heldout_test.sh), the first
marked as the primary one; a name that is not a ranker here is one line, exit 2.

Rows: each variant's Kendall tau, |Pearson|, Spearman and top-10% precision, averaged over
its seeds (per-seed taus shown), the Kendall tau of its scores with MACs on the GT codes
(how far it just follows size), what it knows beyond capacity (partial Spearman with
the GT given MACs and params; FLOPs scores 0; a second table gives its interval over codes,
the tau within MAC fifths, and how high the GT lets that partial correlation go: about
sqrt(R_res), R_res the reliability of what capacity does not explain in the GT's values,
from the same partial Spearman between the two seeds of its codes run twice, Spearman-Brown
to its seeds per code), the epochs trained, the largest and smallest sub-network's validation accuracy
at the end of training, and the difference of its mean tau to the baseline variant's with a
95% interval from a paired bootstrap over the GT codes (both rankings resampled on the same
codes, so the GT's own noise is shared and cancels in part). An interval that holds 0 means
the GT cannot tell the two apart.
A third table (a GT with per-seed values) scores each ranker against one stand-alone run of each
code (each seed alone, on the codes run twice) next to the dearest ranker there is, a second
run of the same codes, with the paired interval of the difference: a supernet below it knows a
code's accuracy less well than another training of that code does.

--ranking PATH writes the machine-readable summary (issue 21): per ranker (each variant and
each proxy, `flops` among them) its mean Kendall tau and |Pearson| over seeds, the number of
seeds, the paired 95% intervals of its tau minus FLOPs' and minus SPOS's, and, where
sample/ holds two or more seeds' scores of the fixed 5,000-candidate sample, the supernet's
own seed-to-seed tau on it.

--blend PROXY adds, for each supernet variant V, the ranker 'V+PROXY' (the mean of V's and the
proxy's ranks, a weight fixed in advance) to every table and to ranking.json, and a table of
the same blend at other weights: does the supernet add anything to the proxy alone?
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

ROOT = Path(__file__).resolve().parents[1]

from track1.candidates import CandidateError, read_official  # noqa: E402
from track1.check import gt_noise, join, second_run, seed_values  # noqa: E402
from track1.config import load_config  # noqa: E402
from track1.metrics import (all_metrics, beyond_capacity, beyond_capacity_interval, gt_reliability,  # noqa: E402
                            kendall, residual_icc, residual_icc_interval, seed_partial_spearman, verdict,
                            within_strata_tau)
from track1.profile import Profile  # noqa: E402

PROFILE = Profile.from_section(load_config(None).profile)          # the candidates' (fashion_mnist's)
SPACE = PROFILE.space

NAME = re.compile(r"^(?P<variant>.+?)(?:-s(?P<seed>\d+))?$")


def score_files(folder: Path) -> dict:
    """{path: its entries} for every kept score file (not the training histories)."""
    return {f: read_official(f, need_acc=True, what=f"score file {f.name}")
            for f in sorted(folder.glob("*.json")) if not f.name.endswith(".history.json")}


def load_runs(files: dict, gt: dict):
    """{variant: {seed: pred array}} in GT key order, the variants' training histories (last
    entries), and {file name: how many GT codes it lacks} for the files left out."""
    runs, hist, short = defaultdict(dict), {}, {}
    for f, sub in files.items():
        m = NAME.match(f.stem)
        variant, seed = m["variant"], int(m["seed"] or 0)
        lacks = sum(k not in sub for k in gt)
        if lacks:
            short[f.name] = lacks
            continue
        runs[variant][seed], _, _ = join(sub, gt, SPACE, subset=True)
        h = f.with_name(f"{f.stem}.history.json")
        entries = json.loads(h.read_text()) if h.exists() else None
        if entries:
            hist[(variant, seed)] = entries[-1]
    return runs, hist, short


def paired_diff(runs: dict, base: str, true: np.ndarray, n_boot: int, seed: int = 0) -> dict:
    """{variant: (d, lo, hi)}: d = mean-tau(variant) - mean-tau(base) on the GT's codes, and
    the 95% percentile interval of that difference over resamples of the codes (both
    rankers on each resample). Until 2026-12-03 d was the mean of the resampled differences,
    within about 0.01 of the observed one."""
    rng = np.random.default_rng(seed)
    n = len(true)
    idx_all = [rng.integers(0, n, n) for _ in range(n_boot)]
    idx_all = [i for i in idx_all if np.ptp(true[i]) > 0]

    def mean_tau(preds, idx):
        return np.mean([kendall(p[idx], true[idx]) for p in preds.values()])
    base_tau = [mean_tau(runs[base], i) for i in idx_all]
    every = np.arange(n)
    out = {}
    for v, preds in runs.items():
        if v == base:
            continue
        d = [mean_tau(preds, i) - b for i, b in zip(idx_all, base_tau)]
        out[v] = (float(mean_tau(preds, every) - mean_tau(runs[base], every)), float(np.percentile(d, 2.5)),
                  float(np.percentile(d, 97.5)))
    return out


def self_consistency(folder: Path) -> dict:
    """{variant: mean Kendall tau between its seeds' scores of the fixed sample} (variants
    with at least two seeds; pairs joined by candidate key)."""
    runs = defaultdict(dict)
    for f in sorted(folder.glob("*.json")):
        m = NAME.match(f.stem)
        runs[m["variant"]][int(m["seed"] or 0)] = json.loads(f.read_text())
    out = {}
    for v, seeds in runs.items():
        taus = []
        for i, a in enumerate(sorted(seeds)):
            for b in sorted(seeds)[i + 1:]:
                keys = sorted(set(seeds[a]) & set(seeds[b]))
                taus.append(kendall([seeds[a][k] for k in keys], [seeds[b][k] for k in keys]))
        if taus:
            out[v] = float(np.mean(taus))
    return out


def ranker_name(variant: str) -> str:
    return variant[len("proxy-"):] if is_proxy(variant) else variant


def gt_residual(gt_path, keys, cost, n_boot: int) -> dict | None:
    """What the GT holds beyond capacity, from its codes run at least twice (first two seeds):
    the residual ICC (log MACs + log params removed, as tools/gt.py summary reports it), and
    the partial Spearman between the two seeds given the ranks of MACs and params, the
    statistic of the `beyond capacity` column; Spearman-Brown to the GT's seeds per code, its
    square root is about the highest partial Spearman with the GT that a ranker knowing the
    noise-free values could show (metrics.seed_partial_spearman). Intervals: bootstrap over
    the repeated codes, the ceiling's mapped from its ends. None for a GT without per-seed values."""
    seeds = seed_values(gt_path, keys)
    two = [i for i, x in enumerate(seeds or []) if len(x) >= 2]
    if len(two) < 8:
        return None
    mat = np.array([seeds[i][:2] for i in two])
    macs, params = ([cost[i][c] for i in two] for c in ("macs", "params"))
    per_code = [max(1, len(x)) for x in seeds]
    ceiling = lambda r: float(np.sqrt(gt_reliability(r, per_code)))     # noqa: E731
    out = {"n_repeated": len(two), "residual_icc": residual_icc(mat, macs, params)}
    if n_boot:
        out["residual_icc_ci"] = residual_icc_interval(mat, macs, params, n_boot)
        r, ci = seed_partial_spearman(mat, macs, params, n_boot)
        out.update(seed_partial_spearman=r, seed_partial_spearman_ci=ci,
                   beyond_capacity_ceiling=ceiling(r), beyond_capacity_ceiling_ci=[ceiling(v) for v in ci] if ci else None)
    else:
        r = seed_partial_spearman(mat, macs, params)
        out.update(seed_partial_spearman=r, beyond_capacity_ceiling=ceiling(r))
    return out


def interval(ci) -> str:
    return f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else ""


def capacity_table(rows: list, runs: dict, true, cap, resid: dict | None, n_boot: int) -> None:
    """The second table: what each ranker knows among codes of alike size."""
    if resid:
        print(f"\nbeyond capacity, what the GT lets show ({resid['n_repeated']} codes run twice): residual ICC "
              f"{resid['residual_icc']:+.3f}{interval(resid.get('residual_icc_ci'))}; partial Spearman of its two seeds "
              f"given MACs and params {resid['seed_partial_spearman']:+.3f}{interval(resid.get('seed_partial_spearman_ci'))}, "
              f"so a ranker that knew the noise-free values would show about "
              f"{resid['beyond_capacity_ceiling']:.2f}{interval(resid.get('beyond_capacity_ceiling_ci'))} below\n")
    else:
        print("\nbeyond capacity (the GT has no per-seed values: no ceiling)\n")
    print("| ranker | partial Spearman given MACs, params [95% over codes] | tau within MAC fifths |")
    print("|---|---|---|")
    for r in sorted(rows, key=lambda r: -r["beyond_capacity"]):
        preds = np.stack(list(runs[r["variant"]].values()))
        if n_boot:
            r["beyond_capacity_ci"] = beyond_capacity_interval(preds, true, *cap, n_boot=n_boot)
        t = float(np.mean([within_strata_tau(p, true, cap[0]) for p in preds]))
        r["tau_within_mac_strata"] = t if np.isfinite(t) else None
        ts = f"{t:+.3f}" if np.isfinite(t) else ""
        print(f"| {r['variant']} | {r['beyond_capacity']:+.3f}{interval(r.get('beyond_capacity_ci'))} | {ts} |")


def second_run_table(rows: list, runs: dict, gt_path, keys, n_boot: int) -> None:
    """The third table: each ranker against one stand-alone run of each code, next to the
    dearest ranker there is, a second run of the same codes (on the GT's codes run twice)."""
    seeds = seed_values(gt_path, keys)
    figures = {r["variant"]: second_run(np.stack(list(runs[r["variant"]].values())), seeds, n_boot) for r in rows}
    first = next((v for v in figures.values() if v), None)
    if first is None:
        return
    print(f"\nagainst one run ({first['n_codes']} codes run twice; mean tau against each seed alone): a second "
          f"run of every code scores {first['second_run']:+.3f} (one seed ranking the other)\n")
    print("| ranker | tau vs one run | minus a second run's [95% paired over codes] |")
    print("|---|---|---|")
    for r in rows:
        v = figures[r["variant"]]
        if v:
            r["tau_vs_one_run"], r["minus_second_run"] = v["tau"], [v["diff"], *(v["ci"] or [])]
            print(f"| {r['variant']} | {v['tau']:+.3f} | {v['diff']:+.3f}{interval(v['ci'])} |")


def ranking_summary(gt_path: str, rows: list, vs: dict, selfc: dict, resid: dict | None = None,
                    gt_codes: dict | None = None, left_out: dict | None = None) -> dict:
    """The issue's ranking.json: {"gt", "rankers": {name: figures}}; `vs` maps a reference
    ranker's variant name to its paired_diff result."""
    out = {}
    for r in rows:
        v = r["variant"]
        e = {"kendall_tau": r["kendall_tau"], "pearson_abs": r["pearson_abs"], "seeds": len(r["seeds"]),
             "beyond_capacity": r["beyond_capacity"]}
        for k in ("beyond_capacity_ci", "tau_within_mac_strata", "tau_vs_one_run", "minus_second_run"):
            if k in r:
                e[k] = r[k]
        for ref, diffs in vs.items():
            if v in diffs:
                e[f"tau_vs_{ranker_name(ref)}"] = [diffs[v][1], diffs[v][2]]
        if v in selfc:
            e["self_tau_5k"] = selfc[v]
        out[ranker_name(v)] = e
    return {"gt": gt_path, **(gt_codes or {}), "rankers": out, **({"left_out": left_out} if left_out else {}),
            **({"gt_beyond_capacity": resid} if resid else {})}


BLEND_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def is_proxy(variant: str) -> bool:
    """Score files named proxy-* hold a zero-cost proxy's ranking, not a trained supernet's."""
    return variant.startswith("proxy-")


def blend_table(runs: dict, proxy: str, true: np.ndarray) -> dict:
    """{variant: [mean-over-seeds tau of w * rank(variant) + (1 - w) * rank(proxy)]} per weight."""
    p = rankdata(next(iter(runs[proxy].values())))
    return {v: [float(np.mean([kendall(w * rankdata(x) + (1 - w) * p, true) for x in preds.values()]))
                for w in BLEND_WEIGHTS]
            for v, preds in runs.items() if not is_proxy(v)}


BLEND_W = 0.5   # the blended rankers' weight on the supernet: the midpoint, fixed a priori, never tuned


def add_blends(runs: dict, proxy: str) -> list:
    """Adds, for every supernet variant V, the ranker 'V+PROXY': per seed the mean of V's rank
    and the proxy's (BLEND_W), the competitor a reviewer asks for first. Returns the names."""
    p = rankdata(next(iter(runs[proxy].values())))
    names = []
    for v in [v for v in runs if not is_proxy(v)]:
        name = f"{v}+{ranker_name(proxy)}"
        runs[name] = {s: BLEND_W * rankdata(x) + (1 - BLEND_W) * p for s, x in runs[v].items()}
        names.append(name)
    return names


def goals(rows: list, vs_flops: dict, blends=frozenset()) -> None:
    """Issue 21's goals on mean tau: the best supernet recipe above FLOPs with a paired interval
    of the difference above 0, and at least 0.10 above SPOS."""
    strat = [r for r in rows if not is_proxy(r["variant"]) and r["variant"] not in blends]
    spos = next((r for r in strat if r["variant"] == "spos"), None)
    if not strat or spos is None:
        print("\ngoals not computed: no 'spos' score files")
        return
    best = max(strat, key=lambda r: r["kendall_tau"])
    d = vs_flops.get(best["variant"])
    flops = (f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] vs flops (goal: interval above 0)" if d else
             "vs flops not computed (needs proxy-flops.json and --boot > 0)")
    # The best of several variants on this GT: its interval is optimistic by the choice.
    print(f"\nbest strategy {best['variant']} ({best['kendall_tau']:+.3f}, {len(best['seeds'])} seeds; the best of "
          f"{len(strat)} on this GT, so its figures are optimistic): "
          f"{best['kendall_tau'] - spos['kendall_tau']:+.3f} vs spos (goal >= +0.10), {flops}")


def print_pairs(pairs: list, runs: dict, true, n_boot: int) -> None:
    """The comparisons named in advance: mean-tau differences A - B, paired over codes."""
    print(f"\ncomparisons named in advance (mean tau A - B, 95% paired over codes, {n_boot} resamples):")
    by_base = {}
    for i, (x, b) in enumerate(pairs):
        if b not in by_base:
            by_base[b] = paired_diff(runs, b, true, n_boot) if n_boot else {}
        d = by_base[b].get(x)
        if d is None:
            print(f"  {x} - {b}: no interval (--boot 0, or the same ranker)")
            continue
        print(f"  {'primary: ' if i == 0 else ''}{x} - {b}: {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]  "
              f"{verdict(d[1:])}")


def mean_of(entries: list, key: str):
    """The mean of a history field over the seeds that have it all (None otherwise)."""
    return float(np.mean([x[key] for x in entries])) if entries and all(key in x for x in entries) else None


def non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got '{text}'")
    return value


def fail(message: str):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gt", default=str(ROOT / load_config(None).train.gt), help="default: the config's train.gt")
    ap.add_argument("--dir", default=str(ROOT / "benchmarks/results/rank"))
    ap.add_argument("--base", default="sandwich", help="the variant the others are compared with")
    ap.add_argument("--boot", type=non_negative, default=2000, help="bootstrap resamples (0: no intervals)")
    ap.add_argument("--out", help="also write one JSON line per variant here")
    ap.add_argument("--ranking", metavar="PATH", help="also write the ranking summary (JSON) here")
    ap.add_argument("--blend", metavar="PROXY", help="also rank-average each variant with this proxy (e.g. flops)")
    ap.add_argument("--common", action="store_true",
                    help="restrict the GT to the codes every score file holds (default: leave out the files that lack some)")
    ap.add_argument("--codes", metavar="FILE",
                    help="restrict the GT to the codes of this official-format file (a held-out set)")
    ap.add_argument("--pairs", nargs="+", metavar="A:B", default=[],
                    help="paired differences A - B to print, named in advance (the first is the primary one)")
    a = ap.parse_args()
    try:
        gt = read_official(a.gt, need_acc=True, what="GT file")
        if a.codes:
            keep = read_official(a.codes, what="--codes file")
            n_all = len(gt)
            clash = next((k for k in gt if k in keep and keep[k]["arch"] != gt[k]["arch"]), None)
            if clash:
                fail(f"--codes {a.codes}: entry {clash} is another code than the GT's entry of that key")
            gt = {k: g for k, g in gt.items() if k in keep}
            if len(gt) < 3:
                fail(f"--codes {a.codes}: only {len(gt)} of its {len(keep)} codes are in the GT ({n_all} codes)")
        files = score_files(Path(a.dir))
        if not files:
            fail(f"no score files in {a.dir}: run benchmarks/rank_strategies.sh first")
        n_gt = len(gt)
        if a.common:
            gt = {k: g for k, g in gt.items() if all(k in sub for sub in files.values())}
            if len(gt) < 3:
                fail(f"--common: the score files in {a.dir} share only {len(gt)} of the GT's {n_gt} codes")
        runs, hist, short = load_runs(files, gt)
    except CandidateError as e:
        fail(f"{e}")
    if not runs:
        fail(f"every score file in {a.dir} lacks some of the GT's {n_gt} codes: "
                 "rerun benchmarks/rank_strategies.sh, or pass --common")
    if a.blend and f"proxy-{a.blend}" not in runs:
        why = "lacks some of the GT's codes" if f"proxy-{a.blend}.json" in short else "is missing"
        fail(f"--blend {a.blend}: proxy-{a.blend}.json in {a.dir} {why}")
    blends = set(add_blends(runs, f"proxy-{a.blend}")) if a.blend else set()
    pairs = [tuple(x.split(":")) for x in a.pairs]
    bad = next((x for x, p in zip(a.pairs, pairs) if len(p) != 2 or not set(p) <= set(runs)), None)
    if bad:
        fail(f"--pairs {bad}: not two rankers A:B of this report (known: {', '.join(sorted(runs))})")
    true = np.array([g["acc"] for g in gt.values()], float)
    cost = [PROFILE.cost(g["arch"]) for g in gt.values()]
    cap = ([c["macs"] for c in cost], [c["params"] for c in cost])
    diffs = paired_diff(runs, a.base, true, a.boot) if a.base in runs and a.boot else {}
    vs = {ref: paired_diff(runs, ref, true, a.boot) for ref in ("proxy-flops", "spos") if ref in runs and a.boot}
    rows = []
    for v, preds in runs.items():
        ms = {s: all_metrics(p, true) for s, p in sorted(preds.items())}
        mean = {k: float(np.mean([m[k] for m in ms.values()])) for k in next(iter(ms.values()))}
        h = [hist[(v, s)] for s in ms if (v, s) in hist]
        rows.append({"variant": v, "gt_n": len(true), "seeds": list(ms),
                     "kendall_tau_per_seed": [ms[s]["kendall_tau"] for s in ms], **mean,
                     "tau_with_macs": float(np.mean([kendall(p, cap[0]) for p in preds.values()])),
                     "beyond_capacity": float(np.mean([beyond_capacity(p, true, *cap) for p in preds.values()])),
                     "val_acc_largest": mean_of(h, "val_acc_largest"),
                     "val_acc_smallest": mean_of(h, "val_acc_smallest"),
                     # the training's length (wall times are in BENCHMARKS from runs measured
                     # alone: a resumed run's history times only its last segment)
                     "epochs": float(np.mean([x["epoch"] for x in h])) if h and all("epoch" in x for x in h) else None,
                     "tau_minus_base": diffs.get(v)})
    rows.sort(key=lambda r: -r["kendall_tau"])
    common = f", the {len(true)} of its {n_gt} codes every score file holds (--common)" if a.common else ""
    if a.codes:
        common += f", only those of {a.codes}" 
    print(f"GT: {a.gt} ({len(true)} codes{common}); paired bootstrap vs '{a.base}' over codes, {a.boot} resamples")
    # Every tau below is read against what a perfect ranker reaches on these codes.
    noise = gt_noise(a.gt, list(gt))
    if noise:
        print(f"GT noise: per-run ICC {noise['icc']:.3f} on the {noise['n_repeated']} of these codes run twice; "
              f"a perfect ranker reaches tau ~{noise['tau_ceiling']:.3f} against them")
    if short:
        print(f"left out, lacking GT codes (kept from a smaller GT; rank_strategies.sh redoes them): "
              + ", ".join(f"{n} ({k} codes)" for n, k in short.items()))
    print()
    print("| variant | seeds | tau per seed | mean tau | mean |Pearson| | Spearman | top-10% | tau with MACs "
          f"| beyond capacity | epochs | val acc largest / smallest | tau - {a.base} [95%] |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        acc = (f"{r['val_acc_largest']:.4f} / {r['val_acc_smallest']:.4f}"
               if r["val_acc_largest"] is not None and r["val_acc_smallest"] is not None else "")
        spent = f"{r['epochs']:.1f}" if r["epochs"] is not None else ""
        d = r["tau_minus_base"]
        ds = f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]" if d else ""
        taus = " ".join(f"{t:+.3f}" for t in r["kendall_tau_per_seed"])
        print(f"| {r['variant']} | {len(r['seeds'])} | {taus} | {r['kendall_tau']:+.3f} | {r['pearson_abs']:.3f} "
              f"| {r['spearman']:+.3f} | {r['top10pct']:.2f} | {r['tau_with_macs']:+.3f} | {r['beyond_capacity']:+.3f} "
              f"| {spent} | {acc} | {ds} |")
    goals(rows, vs.get("proxy-flops", {}), blends)
    if pairs:
        print_pairs(pairs, runs, true, a.boot)
    resid = gt_residual(a.gt, list(gt), cost, a.boot)
    capacity_table(rows, runs, true, cap, resid, a.boot)
    second_run_table(rows, runs, a.gt, list(gt), a.boot)
    if a.blend:
        print(f"\nrank average with proxy {a.blend}: mean tau at weight w on the supernet's rank "
              f"(rows 'V+{a.blend}' above: w = {BLEND_W:g}, fixed in advance; the best w of this table is "
              "chosen on the GT and is no fair figure)\n")
        print("| variant | " + " | ".join(f"w={w:g}" for w in BLEND_WEIGHTS) + " |")
        print("|---|" + "---|" * len(BLEND_WEIGHTS))
        for v, taus in blend_table({v: p for v, p in runs.items() if v not in blends}, f"proxy-{a.blend}", true).items():
            print(f"| {v} | " + " | ".join(f"{t:+.3f}" for t in taus) + " |")
    if a.out:
        Path(a.out).write_text("".join(json.dumps(r) + "\n" for r in rows))
    if a.ranking:
        selfc = self_consistency(Path(a.dir) / "sample")
        for v, t in sorted(selfc.items()):
            print(f"{v}: seed-to-seed tau on the 5,000-candidate sample {t:+.3f}")
        gt = Path(a.gt).resolve()
        # The checkout's own GT by its path in the checkout: the file means the same on every clone.
        shown = str(gt.relative_to(ROOT)) if gt.is_relative_to(ROOT) else str(a.gt)
        sizes = {"gt_codes": n_gt, "codes_compared": len(true), **({"codes_file": a.codes} if a.codes else {}),
                 **({"gt_tau_ceiling": noise["tau_ceiling"]} if noise else {})}
        summary = ranking_summary(shown, rows, vs, selfc, resid, sizes, short)
        Path(a.ranking).write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
