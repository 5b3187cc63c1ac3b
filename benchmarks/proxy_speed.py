"""Zero-cost proxy speed (issue 4): codes/second per proxy on the default profile, one
process, no cache; the analytic proxies over all the candidates.

    python benchmarks/proxy_speed.py [--candidates FILE] [--n 20]
"""
import argparse
import json
import os
import tempfile
import time



def main():
    p = argparse.ArgumentParser()
    p.add_argument("--candidates", default=os.environ.get("TRACK1_CANDIDATES"))
    p.add_argument("--n", type=int, default=20, help="codes per network proxy")
    p.add_argument("--proxies", nargs="*", default=None)
    args = p.parse_args()
    from track1.parallel import worker_env
    worker_env(1)
    from track1.candidates import load_candidates
    from track1.config import load_config
    from track1.profile import Profile
    from track1.proxies import PROXIES
    from track1.proxies import batch
    tmp = tempfile.mkdtemp(prefix="proxy_bench_")
    cfg = load_config("fashion_mnist", [f"proxies.cache_dir={tmp}"])
    prof = Profile.from_section(cfg.profile)
    if args.candidates:
        codes = [c.code for c in load_candidates(args.candidates, prof.space)]
    else:
        codes = prof.space.sample_codes(45000, seed=0)
    batch._init(cfg.proxies, cfg.data, prof, 1)
    for name in args.proxies or PROXIES.names():
        analytic = not PROXIES.meta(name)["needs_net"]
        sel = codes if analytic else codes[:args.n]
        # In-process, what one worker of compute_many does per code (no pool start-up counted).
        batch.score_task((name, codes[-1]))
        t = time.time()
        for c in sel:
            batch.score_task((name, c))
        dt = time.time() - t
        row = {"proxy": name, "codes": len(sel), "s": round(dt, 2), "codes_per_s": round(len(sel) / dt, 2)}
        row["hours_45k_one_process"] = round(45000 / row["codes_per_s"] / 3600, 3)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
