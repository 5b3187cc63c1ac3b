"""Train codes stand-alone under the config's protocol; one JSON line per (code, seed).

    python tools/train_standalone.py --codes FILE|CODE... --seeds 0 1 --out results.jsonl [--jobs 2] [--weights DIR]

FILE is an official-format JSON (keys are kept) or a text file with one code per line.
Resumable: run the same command again after a kill and finished pairs are skipped.

On GPUs: `python -m paddle.distributed.launch --devices 0,1,...,7 tools/train_standalone.py
--set standalone.backend=auto ...` (configs/imagenet.yaml has auto): the ranks share the
pending runs, each on its own GPU, all appending to the one --out (gt/runner.py).
"""
import argparse

from .common import add_config_args, entry, positive_int


def main():
    p = add_config_args(argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter))
    p.add_argument("--codes", nargs="+", required=True, help="codes, code files or candidate JSON files")
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--out", required=True, help="results JSONL (appended; resumable)")
    p.add_argument("--jobs", type=positive_int, default=1,
                   help="worker processes (each uses standalone.threads; under the launcher: per rank)")
    p.add_argument("--curve", action="store_true", help="also evaluate the test set after every epoch")
    p.add_argument("--order", choices=["seed", "code"], default="seed",
                   help="seed: every code with the first seed, then the next seed; code: a code's seeds "
                        "one after the other (a study's first codes then have all their seeds)")
    p.add_argument("--predictions", action="store_true",
                   help="record each run's per-image predicted classes (seed-to-seed disagreement; ~5 KB a run)")
    p.add_argument("--weights", metavar="DIR",
                   help="also keep each run's trained network as DIR/CODE-sSEED.npz (last iterate, BN "
                        "re-estimated; CODE-sSEED.json beside it says which run): a pretrained start "
                        "(train.init) or a distillation teacher for the supernet. Runs finished before keep "
                        "none (said on screen)")
    args = p.parse_args()
    from track1.candidates import codes_from_items
    from track1.config import load_config
    from track1.gt.runner import plan_runs, run_all
    from track1.io_utils import check_output_dir, check_output_path
    from track1.profile import Profile
    cfg = load_config(args.config, args.overrides)
    profile = Profile.from_section(cfg.profile)
    check_output_path(args.out, "--out")
    if args.weights is not None:
        check_output_dir(args.weights, "--weights")
    tasks = plan_runs(codes_from_items(args.codes, profile.space), args.seeds, args.order)
    run_all(cfg, profile, tasks, args.out, jobs=args.jobs, curve=args.curve, predictions=args.predictions,
            weights_dir=args.weights)


entry_point = entry(main)
