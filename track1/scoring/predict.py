"""The whole scoring job behind tools/predict.py: what to score, this process's shard (by flag
or by the distributed launcher's rank), resumable scoring, and the validated submission
(rank 0 merges the other ranks' shards when they are complete)."""
from __future__ import annotations

import os
import time
from pathlib import Path

from ..candidates import Candidate, load_candidates, read_official, resolve_path, write_submission
from ..config import repo_path
from ..io_utils import check_output_path
from .engine import plan_engine
from .run import merge, parse_shard, read_partial, run_identity, score_candidates, wait_for_shard
from .trained import ScoreError, check_bn_mode, load_trained, scoring_config


def candidates_or_sample(path, gt_path, space, n: int, log) -> tuple:
    """(candidates, name): the candidate file's; without one, the GT benchmark's codes under
    their official keys (so the check still has something to join) plus a seeded sample."""
    if path is not None:
        return load_candidates(path, space), Path(path).name
    cands = []
    if gt_path and gt_path.is_file():
        cands = [Candidate(k, space.canonical(v["arch"]), v["arch"])
                 for k, v in read_official(gt_path, space, need_acc=True, what="GT file").items()]
    seen = {c.code for c in cands}
    try:
        drawn = space.sample_codes(n + len(cands), seed=0)
    except ValueError as e:
        raise ScoreError(f"--sample {n}: {e}") from None
    fill = [c for c in drawn if c not in seen][:max(0, n - len(cands))]
    cands += [Candidate(f"sample{i}", c, c) for i, c in enumerate(fill, 1)]
    log(f"no candidate file (--candidates, config 'candidates' or $TRACK1_CANDIDATES): scoring "
        f"the {len(cands) - len(fill)} GT benchmark codes and a seeded sample of {len(fill)} codes of the space instead")
    return cands, f"sample-{n}"


def partial_path(out: Path, shard) -> Path:
    if shard[1] == 1:
        return out.with_name(out.name + ".partial.jsonl")
    return out.with_name(f"{out.name}.shard-{shard[0]}-of-{shard[1]}.jsonl")


def launcher_rank() -> tuple:
    """(rank, world) under `python -m paddle.distributed.launch`, else (0, 1)."""
    return int(os.environ.get("PADDLE_TRAINER_ID", 0)), int(os.environ.get("PADDLE_TRAINERS_NUM", 1))


def _job(checkpoint_dir, config, overrides, candidates, sample, log):
    trained = load_trained(checkpoint_dir, config, overrides)
    cfg = scoring_config(trained, config, overrides)
    check_bn_mode(cfg["score"], trained)
    gt = cfg["train"]["gt"]
    gt_path = repo_path(gt) if gt else None
    cands, name = candidates_or_sample(resolve_path(candidates, cfg), gt_path, trained.profile.space, sample, log)
    return trained, cfg, cands, name


def check_scores(scores, score, num_classes: int) -> None:
    """Refuse a submission that cannot rank: every score equal within float noise, or every
    score at chance level (a broken supernet scores candidates alike; NaN weights, for one,
    come out as finite chance-level scores)."""
    import numpy as np
    s = np.asarray(scores, np.float64)
    noise = 1e-6 * max(1.0, float(np.abs(s).max()))
    chance = {"acc": 1.0 / num_classes, "prob": 1.0 / num_classes, "neg_loss": -np.log(num_classes)}[score["metric"]]
    if np.ptp(s) <= noise:
        raise ScoreError(f"every one of the {len(s)} scores is {s[0]:.6g} (within float noise): the supernet "
                         "does not tell candidates apart; check its training (--allow-degenerate writes it anyway)")
    if np.abs(s - chance).max() <= 1e-3:
        raise ScoreError(f"every score is at chance level ({score['metric']} {chance:.4g} for {num_classes} classes): "
                         "the supernet predicts nothing; check its training (--allow-degenerate writes it anyway)")


def predict(checkpoint_dir, out, candidates=None, config=None, overrides=(), jobs=None, shard=None,
            sample: int = 1000, log=print, allow_degenerate: bool = False) -> dict:
    """Score every candidate into the submission `out` (or one shard of it)."""
    out = Path(out)
    check_output_path(out, "--out")
    trained, cfg, cands, name = _job(checkpoint_dir, config, overrides, candidates, sample, log)
    plan = plan_engine(cfg["score"], cfg["device"], jobs or cfg["score"]["jobs"])
    rank, world = launcher_rank()
    _hint_gpus(plan, world, log)
    mine = parse_shard(shard) if shard else (rank, world)
    part = partial_path(out, mine)
    t0 = time.time()
    scores = score_candidates(trained, cfg, cands, part, shard=mine, log=log, plan=plan)
    log(f"shard {mine[0]}/{mine[1]}: {len(scores)} scores in {part} ({time.time() - t0:.0f} s)")
    if mine[1] == 1 or (shard is None and rank == 0):
        parts = [scores] if mine[1] == 1 else [
            wait_for_shard(partial_path(out, (i, world)), {**run_identity(cfg, cands, trained, plan),
                                                           "shard": [i, world]}, log)
            for i in range(world)]
        final = merge(cands, parts)
        if not allow_degenerate:
            check_scores(final, cfg["score"], trained.profile.num_classes)
        write_submission(out, cands, final)
        log(f"{len(cands)} candidates ({name}) -> {out}" + (f" (merged from {world} ranks)" if len(parts) > 1 else ""))
    return {"n": len(cands), "shard": mine, "out": str(out)}


def _hint_gpus(plan, world: int, log) -> None:
    if plan.device == "gpu" and world == 1:
        import paddle
        n = paddle.device.cuda.device_count()
        if n > 1:
            log(f"scoring on one of {n} GPUs: `python -m paddle.distributed.launch --devices 0,...,{n - 1} "
                "tools/predict.py ...` scores a shard on each")


def merge_shards(parts, out, checkpoint_dir, candidates=None, config=None, overrides=(), sample: int = 1000,
                 log=print) -> int:
    """Join shard files of one scoring run into the submission `out`."""
    out = Path(out)
    check_output_path(out, "--out")
    trained, cfg, cands, _ = _job(checkpoint_dir, config, overrides, candidates, sample, log)
    ident = run_identity(cfg, cands, trained)
    # Settings may have come from --set at scoring time: they need only agree between shards.
    expect = {k: ident[k] for k in ("checkpoint", "candidates")}
    heads, scores = zip(*(read_partial(f, header_check=expect) for f in parts))
    if len({(h["checkpoint"], h["settings"], h["candidates"], h["shard"][1]) for h in heads}) > 1:
        raise ScoreError("shard files disagree on checkpoint, settings, candidates or shard count")
    write_submission(out, cands, merge(cands, scores))
    log(f"{len(cands)} candidates merged from {len(scores)} shards -> {out}")
    return len(cands)
