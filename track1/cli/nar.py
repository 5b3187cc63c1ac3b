"""NAR, the Neural Architecture Ranker: train on labelled codes, score candidates, propose codes.

    python tools/nar.py train --labels GT_OR_SUBMISSION [--out DIR]
    python tools/nar.py predict [--model DIR] [--candidates FILE] --out output/nar/nar.json
    python tools/nar.py sample [--model DIR] --k 10
    python tools/nar.py cv --labels GT [--folds 4] [--compare NAME=FILE ...]
        (Kendall tau on held-out codes, next to other scorers on the same codes)

Track 1 rule 6: predictor-made accuracies are not allowed in an official submission; NAR's
files are for analysis and search (tools/predict.py writes submissions).
"""
import argparse
import json
from pathlib import Path

from .common import add_config_args, entry, fail


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = add_config_args(sub.add_parser("train", help="train NAR on a GT file or a submission"))
    t.add_argument("--labels", required=True)
    t.add_argument("--out", default=None, help="model folder (default nar.out)")
    pr = add_config_args(sub.add_parser("predict", help="score candidates (official format)"))
    pr.add_argument("--model", default=None)
    pr.add_argument("--candidates", default=None)
    pr.add_argument("--out", required=True)
    s = add_config_args(sub.add_parser("sample", help="propose the k best codes (tier-guided)"))
    s.add_argument("--model", default=None)
    s.add_argument("--k", type=int, default=10)
    s.add_argument("--seed", type=int, default=None)
    cv = add_config_args(sub.add_parser("cv", help="k-fold Kendall tau on held-out labelled codes"))
    cv.add_argument("--labels", required=True)
    cv.add_argument("--folds", type=int, default=4)
    cv.add_argument("--train-frac", type=float, nargs="+", default=[0.25, 0.5, 0.75])
    cv.add_argument("--compare", nargs="+", default=[], metavar="NAME=FILE",
                    help="score files (submissions, proxy files) ranked on the same held-out codes")
    args = p.parse_args()
    from track1.config import REPO, load_config
    from track1.profile import Profile
    cfg = load_config(args.config, args.overrides)
    prof = Profile.from_section(cfg.profile)
    ncfg = dict(cfg["nar"])
    # train writes to --out, predict/sample read --model; both default to nar.out
    chosen = args.out if args.cmd == "train" else getattr(args, "model", None)
    model_dir = Path(chosen) if chosen else REPO / ncfg["out"]
    COMMANDS[args.cmd](args, cfg, prof, ncfg, model_dir)


def _train(args, cfg, prof, ncfg, model_dir):
    from track1.nar import fit, save
    from track1.nar.fit import read_labels
    _, codes, accs = read_labels(args.labels, prof.space)
    model, meta = fit(ncfg, prof, codes, accs)
    meta["labels"] = str(args.labels)
    save(model_dir / "nar", model, meta)
    h = meta["history"][-1]
    print(f"NAR trained on {len(codes)} codes ({ncfg['epochs']} epochs, final rank loss "
          f"{h['rank_loss']:.4f}, tier loss {h['tier_loss']:.4f}) -> {model_dir}/nar.npz")


def _predict(args, cfg, prof, ncfg, model_dir):
    from track1.candidates import load_candidates, resolve_path, write_submission
    from track1.io_utils import check_output_path
    from track1.nar import load, predict
    check_output_path(args.out, "--out")
    model, _ = load(model_dir / "nar")
    path = resolve_path(args.candidates, cfg)
    if path is None:
        fail("no candidate file: pass --candidates, set config 'candidates' or $TRACK1_CANDIDATES")
    cands = load_candidates(path, prof.space)
    write_submission(args.out, cands, predict(model, prof, [c.code for c in cands]))
    print(f"{len(cands)} candidates scored by NAR -> {args.out} (analysis only: Track 1 rule 6)")


def _sample(args, cfg, prof, ncfg, model_dir):
    from track1.nar import TierHistograms, load, propose
    model, meta = load(model_dir / "nar")
    hist = TierHistograms.from_dict(meta["histograms"])
    div = hist.divergence()
    print("best-vs-worst tier JS divergence: " + ", ".join(f"{q} {v:.3f}" for q, v in div.items())
          + f" (threshold {ncfg['threshold']})")
    seed = ncfg["seed"] if args.seed is None else args.seed
    for code, score in propose(model, prof, hist, args.k, ncfg["proposals"], ncfg["threshold"], seed):
        c = prof.cost(code)
        print(json.dumps({"arch": code, "nar_score": round(score, 5), "macs": c["macs"], "params": c["params"]}))


def _cv(args, cfg, prof, ncfg, model_dir):
    from track1.nar.crossval import cross_validate
    from track1.nar.fit import read_labels
    if args.folds < 1 or not all(0 < f < 1 for f in args.train_frac):
        fail(f"--folds must be >= 1 and --train-frac values in (0, 1), got {args.folds} and {args.train_frac}")
    _, codes, accs = read_labels(args.labels, prof.space)
    compare = {}
    for item in args.compare:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            fail(f"--compare '{item}': expected NAME=FILE")
        _, ccodes, cscores = read_labels(path, prof.space)
        compare[name] = {c: float(v) for c, v in zip(ccodes, cscores)}
    for row in cross_validate(ncfg, prof, codes, accs, args.folds, args.train_frac, compare):
        print(json.dumps(row))


COMMANDS = {"train": _train, "predict": _predict, "sample": _sample, "cv": _cv}


entry_point = entry(main)
