"""Train codes stand-alone under the config's protocol; one JSON line per (code, seed).

    python tools/train_standalone.py --codes FILE|CODE... --seeds 0 1 --out results.jsonl [--jobs 2]

FILE is an official-format JSON (keys are kept) or a text file with one code per line.
Resumable: run the same command again after a kill and finished pairs are skipped.
"""
import argparse
from pathlib import Path

from _common import add_config_args, fail, run_main


def read_codes(items, space):
    from track1.candidates import load_candidates
    tasks = []
    for item in items:
        p = Path(item)
        if p.is_file():
            if p.suffix == ".json":
                tasks += load_candidates(p, space)
            else:
                lines = [ln.split()[0] for ln in p.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
                tasks += [(None, c) for c in lines]
        else:
            tasks.append((None, item))
    out = []
    for key, code in tasks:
        out.append((key, space.canonical(code)))
    return out


def main():
    p = add_config_args(argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter))
    p.add_argument("--codes", nargs="+", required=True, help="codes, code files or candidate JSON files")
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--out", required=True, help="results JSONL (appended; resumable)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (each uses standalone.threads)")
    p.add_argument("--curve", action="store_true", help="also evaluate the test set after every epoch")
    p.add_argument("--order", choices=["seed", "code"], default="seed",
                   help="seed: every code with the first seed, then the next seed; code: a code's seeds "
                        "one after the other (a study's first codes then have all their seeds)")
    p.add_argument("--predictions", action="store_true",
                   help="record each run's per-image predicted classes (seed-to-seed disagreement; ~5 KB a run)")
    args = p.parse_args()
    from track1.config import load_config
    from track1.gt.runner import ProtocolMismatch, run_all
    from track1.profile import Profile
    cfg = load_config(args.config, args.overrides)
    space = Profile.from_config(cfg).space
    if args.jobs < 1:
        fail(f"--jobs must be >= 1, got {args.jobs}")
    codes = read_codes(args.codes, space)
    if args.order == "seed":
        tasks = [(k, c, s) for s in args.seeds for k, c in codes]
    else:
        tasks = [(k, c, s) for k, c in codes for s in args.seeds]
    try:
        run_all(cfg, tasks, args.out, jobs=args.jobs, curve=args.curve, predictions=args.predictions)
    except (ProtocolMismatch, RuntimeError, ValueError) as e:
        fail(str(e))


if __name__ == "__main__":
    run_main(main)
