"""Zero-cost proxies: a zero-shot submission ranked by one proxy, or proxy scores of codes.

    python tools/proxies.py --proxy NAME [--candidates FILE] --out submit/NAME.json [--jobs 2]
    python tools/proxies.py --list
"""
import argparse

from .common import add_config_args, entry, fail, positive_int


def main():
    p = add_config_args(argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter))
    p.add_argument("--proxy", help="proxy name (see --list)")
    p.add_argument("--candidates", default=None, help="official-format candidate file")
    p.add_argument("--out", default=None, help="submission path (default submit/<proxy>.json)")
    p.add_argument("--jobs", type=positive_int, default=2)
    p.add_argument("--list", action="store_true", help="list the registered proxies")
    args = p.parse_args()
    from track1.proxies import PROXIES
    if args.list:
        for n in PROXIES:
            m = PROXIES.meta(n)
            print(f"{n:10s} sign {m['sign']:+d}  {'needs a network' if m['needs_net'] else 'analytic'}")
        return
    if not args.proxy:
        fail("--proxy NAME is required (or --list)")
    if args.proxy not in PROXIES:
        fail(f"unknown proxy '{args.proxy}'; known: {', '.join(PROXIES.names())}")
    from track1.candidates import load_candidates, resolve_path, write_submission
    from track1.config import REPO, load_config
    from track1.io_utils import check_output_path
    from track1.profile import Profile
    from track1.proxies.batch import compute_many
    cfg = load_config(args.config, args.overrides)
    prof = Profile.from_section(cfg.profile)
    path = resolve_path(args.candidates, cfg)
    if path is None:
        fail("no candidate file: pass --candidates, set config 'candidates' or $TRACK1_CANDIDATES")
    out = args.out or REPO / "submit" / f"{args.proxy}.json"
    check_output_path(out, "--out")
    cands = load_candidates(path, prof.space)
    scores = compute_many(cfg, prof, args.proxy, [c.code for c in cands], jobs=args.jobs)
    write_submission(out, cands, [scores[c.code] for c in cands])
    print(f"{len(cands)} candidates ranked by {args.proxy} -> {out}")


entry_point = entry(main)
