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
import yaml

from ..candidates import submission_dict
from ..config import SCHEMA, _validate, apply_overrides, section_hash
from ..io_utils import FileLock, append_lines, atomic_write_json, read_jsonl
from ..parallel import worker_env, worker_pool
from ..train import checkpoint

_W = {}


class ScoreError(ValueError):
    """A scoring run that cannot go on; one line."""


def load_supernet_config(ckpt_dir, overrides=()):
    """The config the supernet was trained with (from its checkpoint), with CLI overrides."""
    path = Path(ckpt_dir) / "supernet"
    found = checkpoint.load(path)
    if found is None:
        raise ScoreError(f"no trained supernet at '{path}.npz' (run `bash tools/train.sh` first, or pass --checkpoint DIR)")
    arrays, meta = found
    from ..config import DEFAULT_CONFIG, _merge, _wrap, drop_retired
    # Sections added to track1 after the checkpoint was written take their defaults.
    defaults = yaml.safe_load(DEFAULT_CONFIG.read_text())
    trained = _merge(defaults, drop_retired(meta["config"]))
    cfg = _validate(apply_overrides(trained, overrides), SCHEMA)
    # The held-out images are carved out of the training split by these keys: changing
    # them at scoring time would score on images the supernet trained on.
    for k in ("dataset", "val_size", "split_seed"):
        if cfg["data"][k] != trained["data"][k]:
            raise ScoreError(f"data.{k}: the supernet was trained with {trained['data'][k]!r}; scoring with "
                             f"{cfg['data'][k]!r} would put its training images among the scored ones")
    return _wrap(cfg), arrays, meta


def check_bn_mode(cfg, meta) -> None:
    """`running` BN needs running statistics that describe the supernet; the static training
    engine never updates them (README), so scoring with them would rank on the initial ones."""
    engine = meta.get("config", {}).get("train", {}).get("engine")
    if cfg["score"]["bn"] == "running" and engine == "static":
        raise ScoreError("score.bn=running: this supernet was trained by the static engine, which never "
                         "updates BN running statistics; use score.bn=batch or score.bn=recal")


def parse_shard(text: str):
    try:
        i, n = (int(t) for t in text.split("/"))
    except ValueError:
        raise ScoreError(f"--shard '{text}': expected i/n, e.g. 0/4") from None
    if not 0 <= i < n:
        raise ScoreError(f"--shard '{text}': need 0 <= i < n")
    return i, n


def shard_indices(codes, i: int, n: int) -> list:
    """Contiguous blocks of the prefix-sorted order: a shard keeps whole prefixes together."""
    from .fast import prefix_key
    order = sorted(range(len(codes)), key=lambda k: (prefix_key(codes[k]), k))
    return sorted(order[len(order) * i // n:len(order) * (i + 1) // n])


def _init(cfg, arrays, open_stages, threads):
    worker_env(threads)
    import track1  # noqa: F401
    from ..data import load_splits
    from ..profile import Profile
    from ..train.loop import build_supernet
    from .common import score_images
    st = dict(cfg["score"])
    profile = Profile.from_config(cfg)
    images = score_images(load_splits(cfg), st)
    if st["engine"] == "static":
        from .fast import FastScorer
        scorer = FastScorer(lambda: build_supernet(cfg, profile), arrays, open_stages, images, st)
    else:
        from .reference import ReferenceScorer
        net = build_supernet(cfg, profile)
        net.open_stages = set(open_stages)
        net.set_state_dict(arrays)
        scorer = ReferenceScorer(net, images, st)
    _W["scorer"] = scorer


def _score_chunk(task):
    idx, codes = task
    return idx, _W["scorer"].score(codes)


def score_candidates(cfg, arrays, meta, keys_codes, partial_path, jobs=1, shard=(0, 1), log=print,
                     ckpt_id="") -> dict:
    """{index: score} for this shard, resuming from `partial_path`."""
    from .fast import prefix_key
    st = cfg["score"]
    codes = [c for _, c in keys_codes]
    from ..profile import Profile
    profile_space = Profile.from_config(cfg).space
    canon = [profile_space.canonical(c) for c in codes]
    mine = shard_indices(canon, *shard)
    header = {"header": True, **run_identity(cfg, keys_codes, ckpt_id), "shard": list(shard), "n": len(mine)}
    partial_path = Path(partial_path)
    with FileLock(partial_path):
        rows = read_jsonl(partial_path, repair=True)
        if rows and {k: v for k, v in rows[0].items()} != header:
            stale = partial_path.with_suffix(partial_path.suffix + ".stale")
            os.replace(partial_path, stale)
            log(f"partial results in {partial_path} came from another checkpoint, setting or candidate "
                f"list: moved to {stale.name}, starting over")
            rows = []
        if not rows:
            atomic_write_json_lines(partial_path, [header])
            rows = [header]
        done = {int(r["i"]): float(r["score"]) for r in rows[1:]}
        todo = [i for i in mine if i not in done]
        todo.sort(key=lambda i: (prefix_key(canon[i]), i))
        log(f"{len(mine)} candidates in shard {shard[0]}/{shard[1]}: {len(done)} already scored, "
            f"{len(todo)} to score ({st['engine']} engine, bn={st['bn']}, {st['images']} images, {jobs} job(s))")
        if todo:
            chunk = st["chunk"]
            tasks = [(todo[a:a + chunk], [canon[i] for i in todo[a:a + chunk]]) for a in range(0, len(todo), chunk)]
            from tqdm import tqdm
            bar = tqdm(total=len(todo), desc="scoring", unit="cand", mininterval=5)
            t0 = time.time()
            with worker_pool(jobs, _init, (cfg, arrays, meta.get("open_stages", []), 1)) as pool:
                for idx, scores in pool.imap_unordered(_score_chunk, tasks):
                    bad = [i for i, s in zip(idx, scores) if not np.isfinite(s)]
                    if bad:
                        raise ScoreError(f"candidate '{keys_codes[bad[0]][0]}' ({codes[bad[0]]}) got a non-finite score")
                    append_lines(partial_path, [json.dumps({"i": i, "score": s}) for i, s in zip(idx, scores)])
                    done.update(zip(idx, scores))
                    bar.update(len(idx))
            bar.close()
            rate = len(todo) / max(time.time() - t0, 1e-9)
            log(f"scored {len(todo)} candidates at {rate:.1f} candidates/s")
    return {i: done[i] for i in mine}


def run_identity(cfg, keys_codes, ckpt_id) -> dict:
    """What a partial-results file must match to be resumed or merged: the checkpoint, the
    settings that decide a score, and the candidate list (keys and codes, in order)."""
    return {"checkpoint": ckpt_id, "settings": section_hash(st_key(cfg)),
            "candidates": hashlib.sha256("\n".join(f"{k}:{c}" for k, c in keys_codes).encode()).hexdigest()[:16]}


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


def st_key(cfg) -> dict:
    """What decides a score besides the checkpoint: the scoring settings and the data split."""
    st = {k: v for k, v in cfg["score"].items() if k not in ("jobs", "chunk", "group", "engine", "share_prefix", "specialise_depth")}
    return {"score": st, "data": {k: cfg["data"][k] for k in ("dataset", "val_size", "split_seed", "root")},
            "profile": cfg["profile"], "source": scorer_source_hash()}


@functools.lru_cache(maxsize=1)
def scorer_source_hash() -> str:
    """The code that computes a score (scorers, models, BN, data, the space): a fix there
    must not resume partial results of the old code. Other edits (docs, results) do not
    count, unlike the git commit."""
    pkg = Path(__file__).resolve().parent.parent
    files = sorted([*pkg.glob("scoring/*.py"), *pkg.glob("models/*.py"), *pkg.glob("data/*.py"),
                    pkg / "bn.py", pkg / "space.py", pkg / "profile.py"])
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:16]


def atomic_write_json_lines(path, rows):
    from ..io_utils import atomic_write_text
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))


def merge(keys_codes, parts: list) -> list:
    """Scores in candidate order from shard results; every candidate exactly once."""
    scores = [None] * len(keys_codes)
    for part in parts:
        for i, s in part.items():
            if scores[i] is not None:
                raise ScoreError(f"candidate '{keys_codes[i][0]}' scored in two shards")
            scores[i] = s
    missing = [i for i, s in enumerate(scores) if s is None]
    if missing:
        raise ScoreError(f"{len(missing)} candidates have no score (first: '{keys_codes[missing[0]][0]}'): "
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


def write_submission_checked(path, keys_codes, scores):
    sub = submission_dict(keys_codes, scores)
    atomic_write_json(path, sub)
    return sub
