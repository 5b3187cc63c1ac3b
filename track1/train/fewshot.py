"""Few-shot supernets (the 2nd and 4th places of Track 1): the space split by one stage's
depth into K parts, one sub-supernet per part initialised from the trained supernet and
fine-tuned on its part only, and every candidate scored by the sub-supernet of its part.

A part is a narrowed profile (that stage's `depth_range`): the supernet's shapes do not
depend on depth ranges (it always holds every block slot), so a sub-supernet starts as an
exact copy of the parent, trains with the usual strategies on codes of its part, and
scores only candidates valid in its part (the routing is the space's own validation).
"""
from __future__ import annotations

import copy
from pathlib import Path

from ..errors import UserError


class FewShotError(UserError, ValueError):
    """A split that does not partition the space; one line."""


def part_profiles(profile_section: dict, stage: int, groups) -> list:
    """The profile sections of the K parts: stage `stage` (0-based) restricted to each
    group's depths, which must be contiguous and cover the stage's depth range once."""
    lo, hi = profile_section["depth_range"][stage]
    flat = sorted(d for g in groups for d in g)
    if flat != list(range(lo, hi + 1)):
        raise FewShotError(f"few-shot groups {groups} do not cover stage {stage + 1}'s depths {lo}..{hi} exactly once")
    out = []
    for g in groups:
        if sorted(g) != list(range(min(g), max(g) + 1)):
            raise FewShotError(f"few-shot group {g}: depths must be contiguous (a part is a depth range)")
        p = copy.deepcopy(dict(profile_section))
        p["depth_range"] = [list(r) for r in p["depth_range"]]
        p["depth_range"][stage] = [min(g), max(g)]
        out.append(p)
    return out


def part_overrides(cfg, parent_dir, stage: int, groups, epochs: float, out_root) -> list:
    """Per part: the config overrides of its fine-tuning run (its profile, the parent's
    supernet as init, a short schedule, its own out_dir)."""
    from .strategies import STRATEGIES
    strategy = cfg["train"]["strategy"]
    if STRATEGIES.meta(strategy)["branches"]:
        raise FewShotError(f"few-shot parts fine-tune with the parent's strategy, and train.strategy={strategy}'s "
                           "phases and weight branches do not fit a short fine-tuning run: split a supernet "
                           "trained with another strategy")
    parts = part_profiles(cfg["profile"], stage, groups)
    init = Path(parent_dir) / "supernet.npz"
    warm = min(cfg["train"]["warmup_epochs"], epochs / 4)
    # train.reorder=false: the parent's channels were ordered once; a part starts as its exact copy.
    return [[f"profile.depth_range={p['depth_range']}", f"train.init={init}", f"train.epochs={epochs}",
             f"train.warmup_epochs={warm}", "train.reorder=false", f"train.out_dir={Path(out_root) / f'part{k}'}"]
            for k, p in enumerate(parts)]


def route(codes, spaces) -> list:
    """The part index of every code: the one space that accepts it (exactly one must)."""
    out = []
    for c in codes:
        hits = [k for k, sp in enumerate(spaces) if sp.is_valid(c)]
        if len(hits) != 1:
            raise FewShotError(f"code {c} falls in {len(hits)} few-shot parts, not exactly one")
        out.append(hits[0])
    return out


def train_parts(cfg, profile_of, parent_dir, stage: int, groups, epochs: float, out_root, log=print,
                resume: bool = True, candidates=None) -> list:
    """Fine-tune one sub-supernet per part (resumable: each part is a training run of its
    own); returns their out_dirs. `profile_of(section)` builds a Profile. With
    train.sample_from=candidates, each part samples the `candidates` of its own part."""
    from ..config import with_overrides
    from .loop import train
    dirs = []
    for k, over in enumerate(part_overrides(cfg, parent_dir, stage, groups, epochs, out_root)):
        part_cfg = with_overrides(cfg, over)
        log(f"few-shot part {k + 1}/{len(groups)}: stage {stage + 1} depths {groups[k]}")
        # train.gt and the candidates span the whole space: the part takes those of its own part.
        res = train(part_cfg, profile_of(part_cfg["profile"]), resume=resume, log=log, candidates=candidates,
                    whole_space=profile_of(cfg["profile"]).space)
        dirs.append(res["out_dir"])
    return dirs


def score_parts(part_dirs, candidates, cfg_of, out, jobs: int = 1, log=print, parent_dir=None) -> list:
    """Every candidate's score from the sub-supernet of its part: [score] in candidate order.
    `cfg_of(trained)` gives the scoring config of a part's supernet. Partial results go next
    to the submission `out` (OUT.part<k>.partial.jsonl), so two scorings of one set of parts
    into different files (the GT's codes, then a sample) each resume their own.
    `parent_dir` (fewshot.calibrate=parent): every candidate is scored by the parent supernet
    too (OUT.parent.partial.jsonl), and each part's scores are shifted by the parent's mean over
    that part's candidates minus the part's own: the order within a part is the part's, the
    level of each part the parent's."""
    from ..scoring.run import score_candidates
    from ..scoring.trained import check_bn_mode, load_trained
    trained = [load_trained(d) for d in part_dirs]
    cfgs = [cfg_of(t) for t in trained]
    for t, c in zip(trained, cfgs):
        check_bn_mode(c["score"], t)
    parts = route([c.code for c in candidates], [t.profile.space for t in trained])
    ref = None
    if parent_dir is not None:
        whole = load_trained(parent_dir)
        log(f"few-shot calibration: the parent scores all {len(candidates)} candidates")
        got = score_candidates(whole, cfg_of(whole), candidates, Path(f"{out}.parent.partial.jsonl"), jobs=jobs, log=log)
        ref = [got[i] for i in range(len(candidates))]
    scores = [None] * len(candidates)
    for k, t in enumerate(trained):
        mine = [i for i, p in enumerate(parts) if p == k]
        log(f"few-shot part {k + 1}/{len(trained)}: {len(mine)} candidates")
        if not mine:
            continue
        got = score_candidates(t, cfgs[k], [candidates[i] for i in mine],
                               Path(f"{out}.part{k}.partial.jsonl"), jobs=jobs, log=log)
        own = [got[j] for j in range(len(mine))]
        shift = 0.0 if ref is None else sum(ref[i] for i in mine) / len(mine) - sum(own) / len(own)
        for j, i in enumerate(mine):
            scores[i] = own[j] + shift
    return scores
