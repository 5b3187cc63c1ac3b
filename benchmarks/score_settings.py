"""Which scoring settings rank best at which cost (issue 6): BN mode x scored images x
score metric, on one trained supernet.

    python benchmarks/score_settings.py --checkpoint output/main [--images 64 128 256 512 1024]
        [--bn batch recal running] [--sample 200] [--gt GT (default: the config's train.gt)]

Two views, because the GT is small and noisy:
- vs GT: Kendall tau / |Pearson| of the supernet's scores against the GT benchmark's codes;
- stability: Kendall tau of the scores of `--sample` seeded official candidates against the
  same BN mode and metric at the largest image count (how much the ranking still moves with
  more images; independent of the GT's noise).
Speed: warm candidates/s of one process, one thread, on this mixed code set (little prefix
sharing, so lower than a full run's; benchmarks/score_speed.py measures that).
`--sample 0` runs the GT view only (seconds per setting).
Prints one JSON line per (bn, images, metric) and, with --out, writes them as JSON lines.
"""
import argparse
import json
import os
import time
from pathlib import Path



def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", default="output/main")
    p.add_argument("--candidates", default=os.environ.get("TRACK1_CANDIDATES"))
    p.add_argument("--gt", default=None, help="default: the config's train.gt")
    p.add_argument("--images", type=int, nargs="+", default=[64, 128, 256, 512, 1024])
    p.add_argument("--bn", nargs="+", default=["batch", "recal", "running"])
    p.add_argument("--metrics", nargs="+", default=["acc", "neg_loss", "prob"])
    p.add_argument("--sample", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    p.add_argument("--config", default=None, help="scoring settings (default: the config the supernet was trained from)")
    p.add_argument("--set", dest="overrides", action="append", default=[])
    args = p.parse_args()
    from track1.parallel import worker_env
    worker_env(1)
    import numpy as np
    from track1.candidates import load_candidates, read_official, resolve_path
    from track1.data import load_splits
    from track1.metrics import kendall, pearson
    from track1.scoring.common import metric, score_images
    from track1.scoring.fast import FastScorer
    from track1.scoring.trained import load_trained, scoring_config
    trained = load_trained(args.checkpoint)
    cfg = scoring_config(trained, args.config, args.overrides)
    prof = trained.profile
    space = prof.space
    from track1.config import REPO, load_config
    gt = read_official(args.gt or REPO / load_config(None).train.gt, space, need_acc=True)
    gt_codes = [space.canonical(e["arch"]) for e in gt.values()]
    gt_acc = np.array([e["acc"] for e in gt.values()])
    path = resolve_path(args.candidates, cfg)
    rng = np.random.default_rng(args.seed)
    if args.sample == 0:
        sample = []
    elif path is not None:
        pool = [c.code for c in load_candidates(path, space)]
        sample = [pool[i] for i in rng.choice(len(pool), args.sample, replace=False)]
    else:
        sample = space.sample_codes(args.sample, seed=args.seed)
    codes = list(dict.fromkeys(gt_codes + sample))
    splits = load_splits(cfg.data, prof)
    top = max(args.images)
    rows, ref = [], {}
    for bn in args.bn:
        for n in sorted(args.images, reverse=True):     # the largest first: the stability reference
            st = dict(cfg["score"], bn=bn, images=n)
            images = score_images(splits, st)
            scorer = FastScorer(trained.build, trained.arrays, trained.open_stages, images, st)
            scorer.logits(codes[:4])                     # programs and oneDNN primitives built
            t = time.time()
            logits = dict(zip(codes, scorer.logits(codes)))
            speed = len(codes) / (time.time() - t)
            for m in args.metrics:
                s = {c: metric(logits[c], images["y"], m) for c in codes}
                g = np.array([s[c] for c in gt_codes])
                smp = np.array([s[c] for c in sample])
                if n == top:
                    ref[(bn, m)] = smp
                row = {"bn": bn, "images": n, "metric": m, "n_gt": len(gt_codes),
                       "tau_gt": round(kendall(g, gt_acc), 3), "pearson_abs_gt": round(abs(pearson(g, gt_acc)), 3),
                       "n_sample": len(sample), "cand_per_s": round(speed, 2)}
                if sample:
                    row[f"tau_vs_{top}"] = round(kendall(smp, ref[(bn, m)]), 3)
                rows.append(row)
                print(json.dumps(row), flush=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("".join(json.dumps(r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
