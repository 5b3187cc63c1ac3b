"""Few-shot supernets: split a trained supernet by one stage's depth, fine-tune one
sub-supernet per part, score every candidate with its part's (config section `fewshot`).

    python tools/fewshot.py train   [--config C] [--set k=v ...] [--parent DIR] [--candidates FILE]
    python tools/fewshot.py predict [--config C] [--set k=v ...] [--parent DIR] [--candidates FILE] --out SUB.json
                                    [--allow-degenerate]

DIR is the parent's training out_dir (default: the config's train.out_dir); the parts go
to DIR/fewshot/part<k>. Training and scoring resume after a kill (rerun the command).
"""
import argparse
from pathlib import Path

from .common import add_config_args, entry, positive_int


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("train", "predict"):
        s = add_config_args(sub.add_parser(name))
        s.add_argument("--parent", default=None, help="the trained supernet's folder (default train.out_dir)")
        s.add_argument("--candidates", default=None,
                       help="candidate file (predict: the codes scored; train: the pool of train.sample_from=candidates)")
        if name == "predict":
            s.add_argument("--out", required=True)
            s.add_argument("--jobs", type=positive_int, default=None)
            s.add_argument("--allow-degenerate", action="store_true",
                           help="write the submission even when every score is equal or at chance level")
    a = p.parse_args()
    from track1.config import load_config
    from track1.profile import Profile
    from track1.train import fewshot
    from track1.train.loop import out_dir
    cfg = load_config(a.config, a.overrides)
    parent = Path(a.parent) if a.parent else out_dir(cfg.train)
    root = parent / "fewshot"
    f = cfg.fewshot
    from track1.candidates import resolve_path
    if a.cmd == "train":
        dirs = fewshot.train_parts(cfg, Profile.from_section, parent, f.stage, f.groups, f.epochs, root,
                                   candidates=resolve_path(a.candidates, cfg))
        print(f"{len(dirs)} few-shot sub-supernets -> {root}")
        return
    from track1.candidates import load_candidates, write_submission
    from track1.io_utils import check_output_path
    from track1.scoring.trained import scoring_config
    check_output_path(a.out, "--out")
    path = resolve_path(a.candidates, cfg)
    if path is None:
        raise fewshot.FewShotError("no candidate file: pass --candidates, set config 'candidates' or $TRACK1_CANDIDATES")
    parts = [root / f"part{k}" for k in range(len(f.groups))]
    cands = load_candidates(path, Profile.from_section(cfg.profile).space)
    scores = fewshot.score_parts(parts, cands, lambda t: scoring_config(t, a.config, a.overrides), a.out,
                                 jobs=a.jobs or cfg.score.jobs, parent_dir=parent if f.calibrate == "parent" else None)
    if not a.allow_degenerate:
        # judged with the settings the parts scored with (their config, not the CLI's default)
        from track1.scoring.predict import check_scores
        from track1.scoring.trained import load_trained
        first = load_trained(parts[0])
        check_scores(scores, scoring_config(first, a.config, a.overrides)["score"], first.profile.num_classes)
    write_submission(a.out, cands, scores)
    print(f"{len(cands)} candidates scored by {len(parts)} few-shot sub-supernets -> {a.out}")


entry_point = entry(main)
