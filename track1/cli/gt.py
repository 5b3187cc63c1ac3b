"""Ground-truth benchmark tooling.

    python tools/gt.py select  --candidates FILE --n 100 --repeats 20 --out DIR/selection.json
    python tools/gt.py export  DIR/selection.json --which repeat --out DIR/codes_repeat.json
    python tools/gt.py summary RUNS.jsonl [--seeds 0 1] [--boot 2000] [--json] [--budget-hours H] [--codes FILE]
    python tools/gt.py to-gt   RUNS.jsonl --out DIR/gt.json [--metric acc]
    python tools/gt.py compare A.jsonl B.jsonl [--seeds 0 1] [--boot 2000] [--json]
    python tools/gt.py path    (the default GT file: the config's train.gt, for scripts)

`summary` prints, for every test metric the runs recorded (acc, test_loss and their _flip,
_avg, _avg_flip variants): the single-seed ICC with a bootstrap interval, seed-to-seed
Kendall tau and Pearson, within- and between-code sd, the residual ICC beyond log MACs +
log params (with interval), tau(MACs), tau(params), a second run of every code as the
ranker against MACs (each seed ranks the other, alone and rank-averaged with MACs, paired
intervals: if even that is not above MACs, a supernet must estimate accuracy better than a
stand-alone training does to be shown above FLOPs against one seed), the mean cost per run, and the seeds'
per-image disagreement where predictions were recorded. While the residual ICC is about 0,
no ranker can be shown to know more than FLOPs/params on the GT, and it says so.
`compare A B`: two protocols' runs on the codes both ran twice, per metric the single-seed
ICCs and their difference with a paired bootstrap interval (codes resampled once for both).
`--budget-hours H`: the GT that H one-core hours of such runs would buy (codes, reliability,
the smallest tau difference between two rankers it resolves), to choose a protocol by power.
"""
import argparse
import json
import sys

from .common import add_config_args, entry


def _warn(msg):
    print(msg, file=sys.stderr)


def main():
    from track1.gt.summary import METRICS
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = add_config_args(sub.add_parser("select", help="choose the benchmark codes (seeded, stratified)"))
    s.add_argument("--candidates", default=None)
    s.add_argument("--n", type=int, default=100)
    s.add_argument("--repeats", type=int, default=20)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True)
    m = sub.add_parser("summary", help="reliability of every recorded metric, signal beyond capacity, cost")
    m.add_argument("runs")
    m.add_argument("--seeds", nargs=2, type=int, default=[0, 1])
    m.add_argument("--boot", type=int, default=2000, help="bootstrap resamples of the ICC intervals")
    m.add_argument("--json", action="store_true")
    m.add_argument("--run-seconds", type=float, default=None,
                   help="the cost per run for --budget-hours (default: the runs' mean wall time)")
    m.add_argument("--codes", default=None, help="only the runs of the codes in this official-format file")
    m.add_argument("--budget-hours", type=float, default=None,
                   help="also: what a GT built with this many one-core hours of such runs resolves")
    g = add_config_args(sub.add_parser("to-gt", help="results -> official-format GT (mean over seeds) + manifest.json"))
    g.add_argument("runs")
    g.add_argument("--out", required=True)
    g.add_argument("--metric", default="acc", choices=METRICS,
                   help="the GT's value (a loss is stored negated: higher is better to every reader)")
    c = sub.add_parser("compare", help="two protocols on their common codes: paired ICC differences per metric")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--seeds", nargs=2, type=int, default=[0, 1])
    c.add_argument("--boot", type=int, default=2000)
    c.add_argument("--json", action="store_true")
    add_config_args(sub.add_parser("path", help="print the default GT file (the config's train.gt)"))
    e = sub.add_parser("export", help="selection -> official-format code file (all, repeat or single codes)")
    e.add_argument("selection")
    e.add_argument("--which", choices=["all", "repeat", "single"], default="all")
    e.add_argument("--out", required=True)
    args = p.parse_args()

    if args.cmd == "compare":
        from track1.gt.summary import compare_protocols, format_compare
        res = compare_protocols(args.a, args.b, tuple(args.seeds), args.boot, warn=_warn)
        print(json.dumps(res, indent=1) if args.json else format_compare(res))
    elif args.cmd == "path":
        from track1.config import load_config, repo_path
        from pathlib import Path
        gt = load_config(args.config, args.overrides).train.gt
        if not gt:
            from track1.errors import InputError
            raise InputError("config key 'train.gt': not set, so there is no default GT")
        print(repo_path(gt))
    elif args.cmd == "export":
        from track1.gt.select import export_selection
        print(export_selection(args.selection, args.which, args.out))
    elif args.cmd == "select":
        from track1.config import load_config
        from track1.gt.select import write_selection
        from track1.profile import Profile
        cfg = load_config(args.config, args.overrides)
        print(write_selection(args.out, cfg, Profile.from_section(cfg.profile), args.candidates, args.n, args.repeats,
                              args.seed))
    elif args.cmd == "summary":
        from track1.gt.summary import format_summary, summary_file
        s = summary_file(args.runs, args.seeds, args.boot, warn=_warn, budget_hours=args.budget_hours,
                         codes=args.codes, run_seconds=args.run_seconds)
        print(json.dumps(s, indent=1) if args.json else format_summary(s))
    else:
        from track1.config import load_config
        from track1.gt.manifest import write_gt
        print(write_gt(args.runs, args.out, load_config(args.config, args.overrides), args.metric, warn=_warn),
              file=sys.stderr)


entry_point = entry(main)
