"""Stand-alone trainer speed (issue 3): the static oneDNN path vs plain dygraph, same code,
same protocol, side by side; accuracies of both must agree within seed noise.

    python benchmarks/standalone_speed.py [--epochs 0.5] [--seeds 0 1] [--threads 1]

The default code is the profile's largest network (the slowest to train). A shorter
protocol than the GT's (--epochs) keeps the dygraph runs affordable; both paths run it.
"""
import argparse
import json
import time



def main():
    p = argparse.ArgumentParser()
    p.add_argument("--code", default=None)
    p.add_argument("--epochs", type=float, default=0.5)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    from track1.parallel import worker_env
    worker_env(args.threads)
    import numpy as np
    from track1.config import load_config
    from track1.data import load_splits
    from track1.standalone.trainer import train_one
    from track1.profile import Profile
    cfg = load_config("fashion_mnist", [f"standalone.epochs={args.epochs}",
                                        f"standalone.warmup_epochs={min(0.25, args.epochs / 4)}"])
    prof = Profile.from_section(cfg.profile)
    code = args.code or prof.space.max_code()
    splits = load_splits(cfg.data, prof)
    res = {}
    for backend in ("static", "dygraph"):
        for seed in args.seeds:
            t = time.time()
            r = train_one(cfg.standalone, cfg.data, prof, code, seed, splits, backend=backend)
            r["wall_s"] = round(time.time() - t, 1)
            res.setdefault(backend, []).append(r)
            print(json.dumps({"backend": backend, "seed": seed, "acc": r["acc"], "train_img_per_s": r["train_img_per_s"],
                              "wall_s": r["wall_s"], "macs": prof.macs(code), "threads": args.threads}), flush=True)
    s = {b: np.array([r["train_img_per_s"] for r in rs]) for b, rs in res.items()}
    a = {b: np.array([r["acc"] for r in rs]) for b, rs in res.items()}
    print(json.dumps({"speedup_static_over_dygraph": round(float(s["static"].mean() / s["dygraph"].mean()), 2),
                      "acc_static_mean": round(float(a["static"].mean()), 4), "acc_dygraph_mean": round(float(a["dygraph"].mean()), 4),
                      "acc_diff": round(float(a["static"].mean() - a["dygraph"].mean()), 4),
                      "seed_sd_pooled": round(float(np.sqrt((a["static"].var(ddof=1) + a["dygraph"].var(ddof=1)) / 2)), 4)
                      if len(args.seeds) > 1 else None}))


if __name__ == "__main__":
    main()
