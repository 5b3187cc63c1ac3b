"""Scoring speed (issue 6): the fast scorer vs the plain dygraph per-candidate loop, the MAC
bound of this CPU, and peak memory. One process, one thread each (predict.py runs
score.jobs such processes).

    python benchmarks/score_speed.py --checkpoint output/main --candidates FILE [--n 1024]

The n candidates are a contiguous block of the prefix-sorted candidate list: what one
worker of a full run sees, so prefix sharing is as effective as in the full run.
"""
import argparse
import json
import os
import resource
import sys
import time



def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", default="output/main")
    p.add_argument("--candidates", default=os.environ.get("TRACK1_CANDIDATES"))
    p.add_argument("--n", type=int, default=1024)
    p.add_argument("--n-dygraph", type=int, default=24)
    p.add_argument("--config", default=None, help="scoring settings (default: the config the supernet was trained from)")
    p.add_argument("--set", dest="overrides", action="append", default=[])
    args = p.parse_args()
    from track1.parallel import worker_env
    worker_env(1)
    import numpy as np
    from track1.candidates import load_candidates, resolve_path
    from track1.data import load_splits
    from track1.models.standalone import StandaloneNet
    from track1.runtime.inference import StaticInference
    from track1.runtime.static import StaticRuntime
    from track1.scoring.common import score_images
    from track1.scoring.fast import FastScorer, work_order
    from track1.scoring.reference import ReferenceScorer
    from track1.scoring.trained import load_trained, scoring_config
    from track1.space import prefix_key
    trained = load_trained(args.checkpoint)
    cfg = scoring_config(trained, args.config, args.overrides)
    st = dict(cfg["score"])
    prof = trained.profile
    path = resolve_path(args.candidates, cfg)
    if path is None:
        sys.exit("score_speed: no candidate file: pass --candidates or set $TRACK1_CANDIDATES")
    kc = [c.code for c in load_candidates(path, prof.space)]
    codes = [kc[i] for i in work_order(kc, prof.space, st["specialise_depth"])]
    mean_macs = float(np.mean([prof.macs(c) for c in codes]))
    start = len(codes) // 2 - args.n // 2
    block = codes[start:start + args.n]
    images = score_images(load_splits(cfg.data, prof), st)
    N = len(images["x"])
    out = {"n_candidates": len(codes), "images": N, "bn": st["bn"], "metric": st["metric"],
           "distinct_prefixes_in_block": len({prefix_key(c) for c in block})}

    t = time.time()
    fast = FastScorer(trained.build, trained.arrays, trained.open_stages, images, st)
    out["fast_build_s"] = round(time.time() - t, 1)
    # Cold: programs (one per depth combination) and oneDNN primitives built on first use;
    # warm: the steady state of a 45,000-candidate run, where those costs are amortised.
    t = time.time()
    fast.score(block)
    out["fast_cold_cand_per_s"] = round(len(block) / (time.time() - t), 2)
    out["programs_built"] = len(fast.runtime._programs)
    t = time.time()
    fast.score(block)
    out["fast_cand_per_s"] = round(len(block) / (time.time() - t), 2)

    ref = ReferenceScorer(trained.network(), images, st)
    picks = block[::max(1, len(block) // args.n_dygraph)][:args.n_dygraph]
    ref.score(picks[:2])
    t = time.time()
    ref.score(picks)
    out["dygraph_cand_per_s"] = round(len(picks) / (time.time() - t), 2)
    out["fast_over_dygraph"] = round(out["fast_cand_per_s"] / out["dygraph_cand_per_s"], 1)

    # The MAC bound: a plain (unmasked) static oneDNN forward of the largest network on a
    # batch of 256 (the conv throughput this CPU gives for these layer shapes; smaller
    # batches pay more fixed cost per image), whatever N is.
    big = prof.space.max_code()
    xb = np.resize(images["x"], [256] + list(images["x"].shape[1:]))
    make = lambda: StandaloneNet(prof, big)  # noqa: E731
    clf = StaticInference(StaticRuntime({k: v.numpy() for k, v in make().state_dict().items()}), make,
                          prof.input_shape(len(xb)))
    clf.predict(xb)
    reps = 5
    t = time.time()
    for _ in range(reps):
        clf.predict(xb)
    macs_per_s = reps * len(xb) * prof.macs(big) / (time.time() - t)
    out["conv_gmac_per_s"] = round(macs_per_s / 1e9, 2)
    out["mean_candidate_mmac"] = round(mean_macs / 1e6, 3)
    bound = macs_per_s / (mean_macs * N)
    out["mac_bound_cand_per_s"] = round(bound, 2)
    out["fast_over_bound"] = round(out["fast_cand_per_s"] / bound, 2)
    out["hours_45k_one_process"] = round(len(codes) / out["fast_cand_per_s"] / 3600, 2)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
