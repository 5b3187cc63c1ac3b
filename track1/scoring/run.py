"""A scoring run: load the trained supernet, score candidates in resumable chunks, possibly
one shard of several (processes, GPUs or nodes), and write the validated submission."""
from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from ..identity import identity_hash, source_hash
from ..io_utils import FileLock, append_lines, atomic_write_text, file_hash, read_jsonl
from ..parallel import worker_env, worker_pool
from .engine import plan_engine
from .fast import work_order
from .trained import ScoreError

_W = {}


def parse_shard(text: str):
    try:
        i, n = (int(t) for t in text.split("/"))
    except ValueError:
        raise ScoreError(f"--shard '{text}': expected i/n, e.g. 0/4") from None
    if not 0 <= i < n:
        raise ScoreError(f"--shard '{text}': need 0 <= i < n")
    return i, n


def shard_indices(order: list, i: int, n: int) -> list:
    """Shard i of n: a contiguous block of the run's work order (whole prefixes together)."""
    return order[len(order) * i // n:len(order) * (i + 1) // n]


def _init(trained, data, score, threads, plan):
    """A worker: its threads, its device (under the launcher its rank's GPU), its scorer."""
    worker_env(threads)
    from ..data import load_splits
    from ..runtime.device import use
    from .common import score_images
    use(plan.device)
    images = score_images(load_splits(data, trained.profile), score)
    if plan.engine == "static":
        from .fast import FastScorer
        _W["scorer"] = FastScorer(trained.build, trained.arrays, trained.open_stages, images, score)
    elif plan.engine == "batched":
        from .batched import BatchedScorer
        _W["scorer"] = BatchedScorer(trained.network(), images, score, amp=plan.amp)
    else:
        from .reference import ReferenceScorer
        _W["scorer"] = ReferenceScorer(trained.network(), images, score)


def _score_chunk(task):
    idx, codes = task
    return idx, _W["scorer"].score(codes)


def score_candidates(trained, cfg, candidates, partial_path, jobs=1, shard=(0, 1), log=print, plan=None) -> dict:
    """{index: score} of this shard's candidates, resuming from `partial_path`. The work is
    ordered once (`work_order`); shards are contiguous blocks of it, chunks consecutive
    slices, and each chunk is scored in that order. `plan`: the engine, device and workers
    (default: plan_engine of the config, with `jobs` workers on a CPU)."""
    score = cfg["score"]
    plan = plan or plan_engine(score, cfg["device"], jobs)
    codes = [c.code for c in candidates]
    mine = shard_indices(work_order(codes, trained.profile.space, score["specialise_depth"]), *shard)
    header = {"header": True, **run_identity(cfg, candidates, trained, plan), "shard": list(shard), "n": len(mine)}
    partial_path = Path(partial_path)
    with FileLock(partial_path):
        rows = read_jsonl(partial_path, repair=True)
        if rows and rows[0] != header:
            stale = partial_path.with_suffix(partial_path.suffix + ".stale")
            os.replace(partial_path, stale)
            log(f"partial results in {partial_path} came from another checkpoint, setting or candidate "
                f"list: moved to {stale.name}, starting over")
            rows = []
        if not rows:
            atomic_write_text(partial_path, json.dumps(header) + "\n")
            rows = [header]
        done = {int(r["i"]): float(r["score"]) for r in rows[1:]}
        todo = [i for i in mine if i not in done]
        log(f"{len(mine)} candidates in shard {shard[0]}/{shard[1]}: {len(done)} already scored, "
            f"{len(todo)} to score ({plan.describe()}, bn={score['bn']}, {score['images']} images, {plan.jobs} job(s))")
        if todo:
            _score_todo(trained, cfg, candidates, todo, partial_path, done, plan, log)
    return {i: done[i] for i in mine}


def _score_todo(trained, cfg, candidates, todo, partial_path, done, plan, log):
    chunk = cfg["score"]["chunk"]
    tasks = [(todo[a:a + chunk], [candidates[i].code for i in todo[a:a + chunk]]) for a in range(0, len(todo), chunk)]
    from tqdm import tqdm
    t0 = time.time()
    # The bar is closed however scoring ends, so an error message starts on a line of its own.
    with tqdm(total=len(todo), desc="scoring", unit="cand", mininterval=5) as bar, \
            worker_pool(plan.jobs, _init, (trained, cfg["data"], dict(cfg["score"]), 1, plan), threads=1) as pool:
        for idx, scores in pool.imap_unordered(_score_chunk, tasks):
            bad = [i for i, s in zip(idx, scores) if not np.isfinite(s)]
            if bad:
                c = candidates[bad[0]]
                raise ScoreError(f"candidate '{c.key}' ({c.arch}) got a non-finite score")
            append_lines(partial_path, [json.dumps({"i": i, "score": s}) for i, s in zip(idx, scores)])
            done.update(zip(idx, scores))
            bar.update(len(idx))
    log(f"scored {len(todo)} candidates at {len(todo) / max(time.time() - t0, 1e-9):.1f} candidates/s")


def run_identity(cfg, candidates, trained, plan=None) -> dict:
    """What a partial-results file must match to be resumed or merged: the checkpoint, the
    settings that decide a score (identity.py) with the scorer's code and the AMP dtype
    (`plan`'s: a half-precision forward rounds differently), and the candidate list (keys and
    codes, in order)."""
    amp = {"amp": plan.amp} if plan is not None and plan.amp else {}
    return {"checkpoint": file_hash(trained.path),
            "settings": identity_hash("scores", cfg, source=scorer_source_hash(), **amp),
            "candidates": hashlib.sha256("\n".join(f"{c.key}:{c.arch}" for c in candidates).encode()).hexdigest()[:16]}


def wait_for_shard(path, expect: dict, log=print, timeout_s=24 * 3600, poll_s=5.0) -> dict:
    """Rank 0 under a launcher: the scores of another rank's shard once it is complete. A file
    whose header does not match `expect` (left by an earlier run with another checkpoint,
    setting or candidate list) is not taken: its rank will replace it when it starts."""
    t0 = time.time()
    while True:
        if path.is_file():
            head, scores = read_partial(path)
            if all(head.get(k) == v for k, v in expect.items()) and len(scores) >= head["n"]:
                return scores
        if time.time() - t0 > timeout_s:
            raise ScoreError(f"gave up waiting for shard file '{path}' after {timeout_s:.0f} s")
        time.sleep(poll_s)


@functools.lru_cache(maxsize=1)
def scorer_source_hash() -> str:
    """The code that computes a score: scorers, models, runtime, BN, data, the space."""
    return source_hash("scoring", "models", "runtime", "data", "bn.py", "space.py", "profile.py")


def merge(candidates, parts: list) -> list:
    """Scores in candidate order from shard results; every candidate exactly once."""
    scores = [None] * len(candidates)
    for part in parts:
        for i, s in part.items():
            if scores[i] is not None:
                raise ScoreError(f"candidate '{candidates[i].key}' scored in two shards")
            scores[i] = s
    missing = [i for i, s in enumerate(scores) if s is None]
    if missing:
        raise ScoreError(f"{len(missing)} candidates have no score (first: '{candidates[missing[0]].key}'): "
                         "a shard is missing or unfinished")
    return scores


def read_partial(path, header_check=None) -> dict:
    rows = read_jsonl(path)
    if not rows or not rows[0].get("header"):
        raise ScoreError(f"'{path}' is not a partial-results file of tools/predict.py")
    if header_check is not None:
        for k, v in header_check.items():
            if rows[0].get(k) != v:
                raise ScoreError(f"'{path}' was made with another {k} ({rows[0].get(k)} vs {v})")
    return rows[0], {int(r["i"]): float(r["score"]) for r in rows[1:]}
