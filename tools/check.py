"""The leaderboard check: a submission against a ground-truth file, joined by arch key.

    python tools/check.py SUBMISSION --gt GT_FILE [--json] [--plot out.png] [--boot 1000]

Prints n, board A |Pearson|, board B Kendall tau, Spearman and top-5%/10% precision with
95% bootstrap intervals, and, for a GT built by tools/gt.py (per-seed values), the tau a
perfect ranker reaches against it. Keys missing on either side, codes that differ, non-finite
scores or a malformed file: one line naming the first offender, exit 2.
"""
import argparse
import json

from _common import REPO, run_main

DEFAULT_GT = REPO / "benchmarks" / "gt" / "fashion_mnist" / "gt.json"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("submission")
    p.add_argument("--gt", default=str(DEFAULT_GT),
                   help="ground truth in the official format (default: the shipped fashion_mnist GT)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", default=None, help="PNG: predicted vs true (scatter) and rank vs rank")
    p.add_argument("--boot", type=int, default=1000, help="bootstrap resamples (0 = none)")
    p.add_argument("--subset", action="store_true",
                   help="score only the GT's keys (the submission may hold more, e.g. all 45,000)")
    args = p.parse_args()
    from track1.check import check_files
    res = check_files(args.submission, args.gt, boot=args.boot, subset=args.subset, plot=args.plot)
    if args.json:
        print(json.dumps(res))
        return
    ci = res.get("ci", {})

    def fmt(k):
        lo_hi = ci.get(k)
        return f"{res[k]:.4f}" + (f"  [{lo_hi[0]:.4f}, {lo_hi[1]:.4f}]" if lo_hi else "")

    print(f"n = {res['n']} codes joined by key")
    print(f"board A |Pearson|   {fmt('pearson_abs')}")
    print(f"board B Kendall tau {fmt('kendall_tau')}")
    print(f"Spearman            {fmt('spearman')}")
    print(f"top-5% precision    {fmt('top5pct')}")
    print(f"top-10% precision   {fmt('top10pct')}")
    if "gt_noise" in res:
        g = res["gt_noise"]
        print(f"GT noise: per-run ICC {g['icc']:.3f} on {g['n_repeated']} codes run twice; "
              f"a perfect ranker reaches tau ~{g['tau_ceiling']:.3f} against this GT")
    if args.plot:
        print(f"plot -> {args.plot}")


if __name__ == "__main__":
    run_main(main)
