"""Ground-truth benchmark tooling.

    python tools/gt.py select  --candidates FILE --n 100 --repeats 20 --out DIR/selection.json
    python tools/gt.py summary RUNS.jsonl [--seeds 0 1]
    python tools/gt.py to-gt   RUNS.jsonl --out DIR/gt.json
"""
import argparse
import json
import sys
from pathlib import Path

from _common import add_config_args, fail, run_main


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = add_config_args(sub.add_parser("select", help="choose the benchmark codes (seeded, stratified)"))
    s.add_argument("--candidates", default=None)
    s.add_argument("--n", type=int, default=100)
    s.add_argument("--repeats", type=int, default=20)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True)
    m = sub.add_parser("summary", help="n codes, accuracy range, noise ceiling, tau of MACs/params")
    m.add_argument("runs")
    m.add_argument("--seeds", nargs=2, type=int, default=[0, 1])
    m.add_argument("--json", action="store_true")
    g = add_config_args(sub.add_parser("to-gt", help="results -> official-format GT (mean over seeds) + manifest.json"))
    g.add_argument("runs")
    g.add_argument("--out", required=True)
    g.add_argument("--metric", default="acc", choices=["acc", "test_loss"])
    e = sub.add_parser("export", help="selection -> official-format code file (all, repeat or single codes)")
    e.add_argument("selection")
    e.add_argument("--which", choices=["all", "repeat", "single"], default="all")
    e.add_argument("--out", required=True)
    args = p.parse_args()

    from track1.io_utils import atomic_write_json, read_jsonl
    if args.cmd == "export":
        try:
            sel = json.loads(Path(args.selection).read_text())["codes"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            fail(f"selection file '{args.selection}': not a selection written by `gt.py select` ({type(e).__name__}: {e})")
        keep = [(k, v) for k, v in sel.items() if args.which == "all" or v["repeat"] == (args.which == "repeat")]
        # Trained in this order: spread over MACs, so a GT built part-way already spans the
        # range (in MAC order a partial GT holds only the cheap codes).
        keep = {k: {"arch": v["arch"], "acc": 0.0} for k, v in spread_order(keep, lambda kv: kv[1]["macs"])}
        atomic_write_json(args.out, keep, indent=1)
        print(f"{len(keep)} codes -> {args.out}")
        return
    if args.cmd == "select":
        from track1.candidates import load_candidates, resolve_path
        from track1.config import load_config
        from track1.gt.select import select_codes
        from track1.profile import Profile
        cfg = load_config(args.config, args.overrides)
        prof = Profile.from_config(cfg)
        path = resolve_path(args.candidates, cfg)
        if path is None:
            fail("no candidate file: pass --candidates, set config 'candidates' or $TRACK1_CANDIDATES")
        try:
            sel = select_codes(load_candidates(path, prof.space), prof, args.n, args.repeats, args.seed)
        except ValueError as e:
            fail(str(e))
        rep = set(sel["repeat_keys"])
        out = {"rule": f"select_codes(n={args.n}, repeats={args.repeats}, seed={args.seed}): one code per "
                       "MAC stratum, rarest stage depths first; repeats evenly spread over MACs",
               "candidates": path.name, "profile": prof.name,
               "codes": {k: {"arch": c, "macs": mc, "repeat": k in rep} for k, c, mc in sel["codes"]}}
        atomic_write_json(args.out, out, indent=1)
        print(f"{len(sel['codes'])} codes ({len(rep)} repeated) -> {args.out}")
        return
    try:
        runs = read_jsonl(args.runs)
    except ValueError as e:
        fail(str(e))
    if not runs:
        fail(f"'{args.runs}' holds no results")
    if len({r.get('protocol') for r in runs}) > 1:
        fail(f"'{args.runs}' mixes protocols {sorted({r.get('protocol') for r in runs})}")
    for i, r in enumerate(runs, 1):
        lack = ([k for k in ("arch", "seed", "macs", "params") if k not in r]
                or [k for k in ("acc", "test_loss") if k not in r and "diverged" not in r])
        if lack:
            fail(f"'{args.runs}' line {i}: not a result line of tools/train_standalone.py (no '{lack[0]}')")
    if args.cmd == "summary":
        from track1.gt.summary import format_summary, summarize
        s = summarize(runs, tuple(args.seeds))
        print(json.dumps(s, indent=1) if args.json else format_summary(s))
    else:
        from track1.config import load_config
        from track1.gt.protocol import protocol_hash
        from track1.gt.summary import to_gt
        mine = protocol_hash(load_config(args.config, args.overrides))
        if runs[0].get("protocol") != mine:
            fail(f"'{args.runs}' was trained under protocol {runs[0].get('protocol')}, the config given "
                 f"here has {mine}: pass the --config/--set it was trained with (the manifest records it)")
        try:
            gt = to_gt(runs, args.metric)
        except ValueError as e:
            fail(str(e))
        atomic_write_json(args.out, gt, indent=1)
        manifest = Path(args.out).with_name("manifest.json")
        atomic_write_json(manifest, _manifest(args, runs, gt), indent=1)
        print(f"{len(gt)} codes -> {args.out} (+ {manifest.name})", file=sys.stderr)


def spread_order(items, key) -> list:
    """`items` sorted by `key`, then taken in van der Corput order of their rank (0, 1/2,
    1/4, 3/4, ...): every prefix covers the range about evenly. Deterministic, no seed."""
    items = sorted(items, key=key)
    n, bits = len(items), max(1, (len(items) - 1).bit_length())
    rev = lambda i: int(format(i, f"0{bits}b")[::-1], 2)      # noqa: E731
    return [items[i] for i in sorted(range(n), key=lambda i: (rev(i), i))]


def _manifest(args, runs, gt) -> dict:
    """What the GT file is made of: protocol, seeds, selection rule, code version, date."""
    import datetime
    from track1.config import load_config
    sel = Path(args.runs).with_name("selection.json")
    seeds = sorted({r["seed"] for r in runs})
    return {"gt": Path(args.out).name, "runs": Path(args.runs).name, "metric": args.metric,
            "n_codes": len(gt), "n_runs": len(runs), "seeds": seeds,
            "codes_per_seed": {str(s): sum(r["seed"] == s and "diverged" not in r for r in runs) for s in seeds},
            "diverged": sum("diverged" in r for r in runs),
            "protocol_hash": runs[0].get("protocol"),
            "protocol": dict(load_config(args.config, args.overrides)["standalone"]),
            "code_versions": sorted({r.get("code_version", "?") for r in runs}),
            "selection": json.loads(sel.read_text())["rule"] if sel.is_file() else None,
            "date": datetime.date.today().isoformat()}


if __name__ == "__main__":
    run_main(main)
