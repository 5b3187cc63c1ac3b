"""Score every candidate with the trained supernet and write the official submission.

    python tools/predict.py [--checkpoint DIR] [--candidates FILE] [--out submit/NAME.json]
                            [--jobs N] [--shard i/n] [--set score.bn=recal ...]
    python tools/predict.py merge --out submit/NAME.json [--candidates FILE] SHARD_FILES...

Resumable: partial scores are appended next to the output; rerun the same command after a
kill. Under `python -m paddle.distributed.launch`, each rank scores its shard and rank 0
merges. Track 1 rule 6: the scores come from the supernet (never from a predictor).
"""
import argparse
import os
import sys
import time
from pathlib import Path

from _common import REPO, fail, run_main

DEFAULT_CKPT = REPO / "output" / "fashion_mnist"


def candidates_or_sample(args, cfg, space, log):
    """The candidate file's (key, code) pairs; without one, the GT benchmark's codes under
    their official keys (so the check still has something to join) plus a seeded sample."""
    from track1.candidates import load_candidates, read_official, resolve_path
    path = resolve_path(args.candidates, cfg)
    if path is not None:
        return load_candidates(path, space), path.name
    n = args.sample
    kc = []
    gt = cfg["train"]["gt"]
    gt_path = Path(gt) if gt and Path(gt).is_absolute() else REPO / (gt or "")
    if gt and gt_path.is_file():
        kc = [(k, v["arch"]) for k, v in read_official(gt_path, space, need_acc=True, what="GT file").items()]
    seen = {c[-51:] for _, c in kc}
    try:
        drawn = space.sample_codes(n + len(kc), seed=0)
    except ValueError as e:
        from track1.scoring.run import ScoreError
        raise ScoreError(f"--sample {n}: {e}") from None
    fill = [c for c in drawn if c[-51:] not in seen][:max(0, n - len(kc))]
    kc += [(f"sample{i}", c) for i, c in enumerate(fill, 1)]
    log(f"no candidate file (--candidates, config 'candidates' or $TRACK1_CANDIDATES): scoring "
        f"the {len(kc) - len(fill)} GT benchmark codes and a seeded sample of {len(fill)} codes of the space instead")
    return kc, f"sample-{n}"


def main():
    argv = sys.argv[1:]
    if argv[:1] == ["merge"]:
        return merge_main(argv[1:])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(DEFAULT_CKPT), help="training output folder (holds supernet.npz)")
    p.add_argument("--candidates", default=None,
                   help="the official candidate JSON (default: config 'candidates', else $TRACK1_CANDIDATES)")
    p.add_argument("--out", default=None, help="submission path (default submit/<checkpoint name>.json)")
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default score.jobs)")
    p.add_argument("--shard", default=None, help="score only shard i of n (i/n); merge the parts afterwards")
    p.add_argument("--sample", type=int, default=1000, help="codes to sample when no candidate file exists")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key of the checkpoint's config, e.g. score.images=32 (repeatable)")
    args = p.parse_args(argv)
    from track1.profile import Profile
    from track1.io_utils import file_hash
    from track1.scoring.run import (check_bn_mode, load_supernet_config, merge, parse_shard, run_identity,
                                    score_candidates, wait_for_shard, write_submission_checked)
    log = lambda m: print(m, flush=True)  # noqa: E731
    try:
        cfg, arrays, meta = load_supernet_config(args.checkpoint, args.overrides)
        check_bn_mode(cfg, meta)
        space = Profile.from_config(cfg).space
        kc, cand_name = candidates_or_sample(args, cfg, space, log)
        rank, world = int(os.environ.get("PADDLE_TRAINER_ID", 0)), int(os.environ.get("PADDLE_TRAINERS_NUM", 1))
        shard = parse_shard(args.shard) if args.shard else (rank, world)
        out = Path(args.out) if args.out else REPO / "submit" / f"{Path(args.checkpoint).name}.json"
        part = partial_path(out, shard)
        jobs = args.jobs or cfg["score"]["jobs"]
        ckpt_id = file_hash(Path(args.checkpoint) / "supernet.npz")
        t0 = time.time()
        scores = score_candidates(cfg, arrays, meta, kc, part, jobs=jobs, shard=shard, log=log, ckpt_id=ckpt_id)
        log(f"shard {shard[0]}/{shard[1]}: {len(scores)} scores in {part} ({time.time() - t0:.0f} s)")
        if shard[1] == 1:
            write_submission_checked(out, kc, merge(kc, [scores]))
            log(f"{len(kc)} candidates ({cand_name}) -> {out}")
        elif args.shard is None and rank == 0:
            expect = run_identity(cfg, kc, ckpt_id)
            parts = [wait_for_shard(partial_path(out, (i, world)), {**expect, "shard": [i, world]}, log)
                     for i in range(world)]
            write_submission_checked(out, kc, merge(kc, parts))
            log(f"{len(kc)} candidates ({cand_name}) merged from {world} ranks -> {out}")
    except (RuntimeError, ValueError, OSError) as e:
        # ScoreError (a ValueError), a locked or corrupt partial-results file, a broken supernet.npz
        fail(str(e))


def partial_path(out: Path, shard) -> Path:
    if shard[1] == 1:
        return out.with_name(out.name + ".partial.jsonl")
    return out.with_name(f"{out.name}.shard-{shard[0]}-of-{shard[1]}.jsonl")


def merge_main(argv):
    p = argparse.ArgumentParser(description="merge shard results into one submission")
    p.add_argument("parts", nargs="+", help="shard files (<out>.shard-i-of-n.jsonl)")
    p.add_argument("--out", required=True)
    p.add_argument("--checkpoint", default=str(DEFAULT_CKPT))
    p.add_argument("--candidates", default=None,
                   help="the official candidate JSON (default: config 'candidates', else $TRACK1_CANDIDATES)")
    p.add_argument("--sample", type=int, default=1000)
    args = p.parse_args(argv)
    from track1.profile import Profile
    from track1.io_utils import file_hash
    from track1.scoring.run import (ScoreError, load_supernet_config, merge, read_partial, run_identity,
                                    write_submission_checked)
    try:
        cfg, _, _ = load_supernet_config(args.checkpoint)
        kc, _ = candidates_or_sample(args, cfg, Profile.from_config(cfg).space, print)
        # Settings may have come from --set at scoring time: they need only agree between shards.
        ident = run_identity(cfg, kc, file_hash(Path(args.checkpoint) / "supernet.npz"))
        expect = {k: ident[k] for k in ("checkpoint", "candidates")}
        heads, parts = zip(*(read_partial(f, header_check=expect) for f in args.parts))
        keys = {(h["checkpoint"], h["settings"], h["candidates"], h["shard"][1]) for h in heads}
        if len(keys) > 1:
            raise ScoreError("shard files disagree on checkpoint, settings, candidates or shard count")
        write_submission_checked(args.out, kc, merge(kc, parts))
        print(f"{len(kc)} candidates merged from {len(parts)} shards -> {args.out}")
    except (RuntimeError, ValueError, OSError) as e:
        fail(str(e))


if __name__ == "__main__":
    run_main(main)
