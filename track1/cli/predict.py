"""Score every candidate with the trained supernet and write the official submission.

    python tools/predict.py [--checkpoint DIR] [--candidates FILE] [--out submit/NAME.json]
                            [--config C] [--set score.bn=recal ...] [--jobs N] [--shard i/n]
    python tools/predict.py merge --out submit/NAME.json [--candidates FILE] SHARD_FILES...

The supernet (profile, data split, weight branches) comes from its checkpoint; the scoring
settings from the config: --config, else the one it was trained from, with --set overrides.
Resumable: partial scores are appended next to the output; rerun the same command after a
kill. Under `python -m paddle.distributed.launch`, each rank scores its shard and rank 0
merges. Track 1 rule 6: the scores come from the supernet (never from a predictor).
"""
import argparse
import sys
from pathlib import Path

from ..config import REPO
from .common import entry, positive_int

def _shared(p):
    p.add_argument("--checkpoint", default=None,
                   help="training output folder (holds supernet.npz; default: the config's train.out_dir), "
                        "or a supernet .pdparams in a layout of track1/interop.py (profile and split from --config)")
    p.add_argument("--candidates", default=None,
                   help="the official candidate JSON (default: config 'candidates', else $TRACK1_CANDIDATES)")
    p.add_argument("--config", default=None, help="scoring settings: a config path or name (default: the "
                                                  "config the supernet was trained from)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. score.images=32 (repeatable)")
    p.add_argument("--sample", type=int, default=1000, help="codes to sample when no candidate file exists")
    return p


def main():
    import paddle
    # This process only reads the checkpoint and writes files; the workers score, each on
    # the device of the config's `device` (no CUDA context here beside theirs).
    paddle.set_device("cpu")
    from track1.scoring.predict import merge_shards, predict
    log = lambda m: print(m, flush=True)  # noqa: E731
    if sys.argv[1:2] == ["merge"]:
        p = _shared(argparse.ArgumentParser(prog="predict.py merge", description="merge shard results into one submission"))
        p.add_argument("parts", nargs="+", help="shard files (<out>.shard-i-of-n.jsonl)")
        p.add_argument("--out", required=True)
        a = p.parse_args(sys.argv[2:])
        merge_shards(a.parts, a.out, _checkpoint(a), a.candidates, a.config, a.overrides, a.sample, log)
        return
    p = _shared(argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter))
    p.add_argument("--out", default=None, help="submission path (default submit/<checkpoint name>.json)")
    p.add_argument("--jobs", type=positive_int, default=None, help="worker processes (default score.jobs)")
    p.add_argument("--shard", default=None, help="score only shard i of n (i/n); merge the parts afterwards")
    p.add_argument("--allow-degenerate", action="store_true",
                   help="write the submission even if every score is equal or at chance level")
    a = p.parse_args()
    ckpt = _checkpoint(a)
    out = Path(a.out) if a.out else REPO / "submit" / f"{ckpt.name}.json"
    predict(ckpt, out, a.candidates, a.config, a.overrides, a.jobs, a.shard, a.sample, log, a.allow_degenerate)


def _checkpoint(a) -> Path:
    """--checkpoint, else the train.out_dir of --config (+ --set): the run that config trained."""
    if a.checkpoint:
        return Path(a.checkpoint)
    from track1.config import load_config
    from track1.train.loop import out_dir
    return out_dir(load_config(a.config, a.overrides).train)


entry_point = entry(main)
