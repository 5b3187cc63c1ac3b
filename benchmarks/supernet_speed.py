"""Supernet training speed: the static masked engine (oneDNN) vs plain dygraph OFA-style
slicing, same strategy, same batches and sub-networks, on this machine (issue 5).

    python benchmarks/supernet_speed.py [--steps 20] [--strategies spos sandwich]
Prints one JSON line per (strategy, engine) and the ratio static/dygraph.
"""
import argparse
import json
import time



def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--strategies", nargs="+", default=["spos", "sandwich"])
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    from track1.parallel import worker_env
    worker_env(args.threads)
    import numpy as np
    import paddle
    from track1.config import load_config
    from track1.data import load_splits
    from track1.profile import Profile
    from track1.models import SuperNet
    from track1.runtime.optim import lr_at
    from track1.train.engines import DygraphEngine, StaticEngine, SupernetTask
    from track1.train.loop import supernet_definition
    from track1.train.samplers import ArchSampler
    from track1.train.strategies import make_strategy
    cfg = load_config("fashion_mnist")
    prof = Profile.from_section(cfg.profile)
    split = load_splits(cfg.data, prof)["train"]
    bs = cfg["train"]["batch_size"]
    rows = {}
    for strat in args.strategies:
        for engine in ("static", "dygraph"):
            c = load_config("fashion_mnist", [f"train.strategy={strat}", f"train.engine={engine}"])
            paddle.seed(0)
            definition = supernet_definition(c, prof)
            net = SuperNet.from_definition(prof, definition)
            lr_fn = lambda s: lr_at(s, 1000, 10, 0.1, "cosine")  # noqa: E731
            task = SupernetTask(lambda: SuperNet.from_definition(prof, definition), c.train.label_smoothing,
                                net.open_stages)
            eng = StaticEngine(task, c.train, lr_fn, {k: v.numpy() for k, v in net.state_dict().items()}) \
                if engine == "static" else DygraphEngine(net, task, c.train, lr_fn)
            strategy = make_strategy(c, ArchSampler(prof.space), None)
            rng = np.random.default_rng(0)
            batches = split.batches(bs, rng, drop_last=True)
            t_build = time.time()
            for _ in range(args.warmup):
                x, y = next(batches)
                eng.step(strategy.plan(0.5, rng), x, y)
            t_build = time.time() - t_build
            t0 = time.time()
            for _ in range(args.steps):
                x, y = next(batches)
                eng.step(strategy.plan(0.5, rng), x, y)
            dt = (time.time() - t0) / args.steps
            rows[(strat, engine)] = dt
            print(json.dumps({"strategy": strat, "engine": engine, "s_per_step": round(dt, 3),
                              "img_per_s": round(bs / dt, 1), "warmup_s": round(t_build, 1),
                              "threads": args.threads}), flush=True)
        print(json.dumps({"strategy": strat, "static_over_dygraph": round(rows[(strat, "dygraph")] / rows[(strat, "static")], 2)}),
              flush=True)


if __name__ == "__main__":
    main()
