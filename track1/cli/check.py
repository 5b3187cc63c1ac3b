"""The leaderboard check: a submission against a ground-truth file, joined by arch key.

    python tools/check.py SUBMISSION --gt GT_FILE [--json] [--plot out.png] [--boot 1000] [--subset]
    python tools/check.py compare A.json B.json --gt GT_FILE [--boot 2000] [--json] [--subset]

The first form prints n, board A |Pearson|, board B Kendall tau, Spearman and top-5%/10%
precision with 95% bootstrap intervals, and, for a GT built by tools/gt.py (per-seed
values), what its noise allows: the tau a perfect ranker reaches against it, its
reliability, the submission's tau and |Pearson| against the noise-free values
(disattenuated), the submission against one run of each code next to a second stand-alone
run of the same codes (on the codes run twice, with a paired interval: the dearest ranker
there is), and the smallest true tau difference it resolves between two rankers; and what
the submission knows beyond capacity (partial Spearman given MACs and params).
`compare` bootstraps the GT's codes once for both submissions and prints the differences
A - B in Kendall tau, |Pearson| and Spearman with 95% intervals and a verdict each ("A > B",
"B > A", "not resolved"). Keys missing on either side, codes that differ or are not in the
space, non-finite or overflowing scores, a malformed file: one line naming the first
offender, exit 2. (A submission file named "compare": pass it as ./compare.)
"""
import argparse
import json
import sys

from .common import add_config_args, entry

def _common_args(p, boot, boot_help):
    p.add_argument("--gt", default=None,
                   help="ground truth in the official format (default: the config's train.gt, the shipped GT)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--boot", type=int, default=boot, help=boot_help)
    p.add_argument("--subset", action="store_true",
                   help="score only the GT's keys (a submission may hold more, e.g. all 45,000)")
    add_config_args(p)          # the profile whose space every code is validated against
    return p


def _resolve(args):
    """The profile (its space validates every code; its cost gives MACs and params), and the
    GT file (default: the config's train.gt)."""
    from pathlib import Path
    from track1.config import load_config, repo_path
    from track1.profile import Profile
    cfg = load_config(args.config, args.overrides)
    if not (args.gt or cfg.train.gt):
        from track1.errors import InputError
        raise InputError("no --gt given and config key 'train.gt' is not set: pass --gt GT.json")
    return Profile.from_section(cfg.profile), Path(args.gt) if args.gt else repo_path(cfg.train.gt)


def main():
    from track1 import check
    if sys.argv[1:2] == ["compare"]:
        p = _common_args(argparse.ArgumentParser(prog="check.py compare", description=__doc__,
                                                 formatter_class=argparse.RawDescriptionHelpFormatter), 2000,
                         "paired bootstrap resamples (at least 1: the verdicts are intervals)")
        p.add_argument("a")
        p.add_argument("b")
        args = p.parse_args(sys.argv[2:])
        profile, gt = _resolve(args)
        res = check.compare_files(args.a, args.b, gt, profile.space, boot=args.boot, subset=args.subset)
        print(json.dumps(res) if args.json else check.format_compare(res))
        return
    p = _common_args(argparse.ArgumentParser(description=__doc__,
                                             formatter_class=argparse.RawDescriptionHelpFormatter), 1000,
                         "bootstrap resamples (0 = none)")
    p.add_argument("submission")
    p.add_argument("--plot", default=None, help="PNG: predicted vs true (scatter) and rank vs rank")
    args = p.parse_args()
    profile, gt = _resolve(args)
    res = check.check_files(args.submission, gt, profile.space, boot=args.boot, subset=args.subset,
                            cost=profile.cost)
    print(json.dumps(res) if args.json else check.format_check(res), flush=True)
    if args.plot:                # after the figures: a bad path costs the plot only
        res.plot(args.plot)
        if not args.json:
            print(f"plot -> {args.plot}")


entry_point = entry(main)
