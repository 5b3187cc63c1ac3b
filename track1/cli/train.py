"""Train the supernet: `python tools/train.py [--config C] [--set key=value ...] [--resume]`.

Several GPUs or nodes (train.engine=dygraph):
    python -m paddle.distributed.launch --devices 0,1 tools/train.py --set train.engine=dygraph
Two CPU processes: `python -m paddle.distributed.launch --nproc_per_node 2 tools/train.py --set train.engine=dygraph ...`
(the static engine runs in one process only)
"""
import argparse
import os

from .common import add_config_args, entry, fail, positive_int


def main():
    p = add_config_args(argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter))
    p.add_argument("--resume", action="store_true", help="continue from train.out_dir/checkpoint if present")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh in a train.out_dir that already holds a checkpoint or a supernet")
    p.add_argument("--candidates", default=None, help="candidate file (for train.sample_from=candidates)")
    p.add_argument("--max-steps", type=positive_int, default=None, help="stop after this many steps (smoke tests)")
    args = p.parse_args()
    from track1.config import load_config
    cfg = load_config(args.config, args.overrides)
    if "PADDLE_TRAINER_ID" not in os.environ and cfg.train.engine == "static":
        # Paddle reads its thread count at import; set it before the first import in this process.
        os.environ.setdefault("OMP_NUM_THREADS", str(cfg.train.threads))
        if os.environ["OMP_NUM_THREADS"] != str(cfg.train.threads):
            print(f"note: OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} from the environment overrides "
                  f"train.threads={cfg.train.threads}", flush=True)
    import paddle.distributed as dist
    from track1.candidates import resolve_path
    from track1.profile import Profile
    from track1.runtime.device import use
    from track1.train.loop import TrainError, train
    if cfg.train.engine == "static" and cfg.device == "gpu":
        raise TrainError("train.engine=static is the CPU path (oneDNN programs); on a GPU use train.engine=dygraph")
    # The static engine runs on the CPU whatever `device: auto` would pick.
    use("cpu" if cfg.train.engine == "static" else cfg.device)
    if int(os.environ.get("PADDLE_TRAINERS_NUM", "1")) > 1:
        dist.init_parallel_env()
    try:
        res = train(cfg, Profile.from_section(cfg.profile), resume=args.resume, overwrite=args.overwrite,
                    max_steps=args.max_steps, candidates=resolve_path(args.candidates, cfg))
    except FloatingPointError as e:
        fail(f"training diverged: {e} (lower train.lr, or raise train.warmup_epochs)")
    if not dist.is_initialized() or dist.get_rank() == 0:
        print(f"supernet -> {res['out_dir']}/supernet.npz")


entry_point = entry(main)
