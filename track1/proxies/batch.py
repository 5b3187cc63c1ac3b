"""Proxy scores of many codes with an on-disk cache: computed once, reused by training.

Cache file per (profile, proxy, seed, settings): one JSON line {"arch", "score"} per code,
appended as scores arrive, so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..config import REPO, section_hash
from ..io_utils import FileLock, append_lines, read_jsonl
from ..parallel import worker_env, worker_pool
from . import PROXIES
from .base import ProxyError, proxy_settings, score

_W = {}


def cache_path(cfg, name: str) -> Path:
    st = proxy_settings(cfg)
    key = {"profile": cfg["profile"], "proxy": name, "version": PROXIES.meta(name).get("version", 1),
           "settings": {k: v for k, v in st.items() if k not in ("cache_dir",)}}
    if PROXIES.meta(name)["needs_net"] and st["data"] == "real":
        key["data"] = {k: cfg["data"][k] for k in ("dataset", "val_size", "split_seed")}
    d = Path(st["cache_dir"])
    d = d if d.is_absolute() else REPO / d
    return d / f"{cfg['profile']['name']}-{name}-s{st['seed']}-{section_hash(key)}.jsonl"


def _load_data(cfg):
    st = proxy_settings(cfg)
    if st["data"] != "real":
        return None
    from ..data import load_splits
    return load_splits(cfg)["train"].arrays(limit=4096)


def _init(cfg, threads):
    worker_env(threads)
    import track1  # noqa: F401
    from ..profile import Profile
    _W.update(cfg=cfg, profile=Profile.from_config(cfg), settings=proxy_settings(cfg), data=_load_data(cfg))


def _one(task):
    name, code = task
    try:
        return code, score(name, _W["profile"], code, _W["settings"]["seed"], _W["settings"], _W["data"]), None
    except ProxyError as e:
        return code, None, str(e)


def compute_many(cfg, name: str, codes, jobs: int = 1, progress: bool = True) -> dict:
    """{code: signed score} for `codes`; cached scores are read, missing ones computed."""
    PROXIES.get(name)
    path = cache_path(cfg, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path):
        cached = {r["arch"]: r["score"] for r in read_jsonl(path, repair=True)}
        todo = [c for c in dict.fromkeys(codes) if c not in cached]
        if todo and not PROXIES.meta(name)["needs_net"]:
            _init(cfg, int(os.environ.get("OMP_NUM_THREADS", "1")))
            results = map(_one, [(name, c) for c in todo])
            _collect(results, path, cached, name, len(todo), progress)
        elif todo:
            with worker_pool(jobs, _init, (cfg, 1)) as pool:
                results = pool.imap(_one, [(name, c) for c in todo], chunksize=8)
                _collect(results, path, cached, name, len(todo), progress)
    return {c: cached[c] for c in codes}


def _collect(results, path, cached, name, total, progress, flush_s: float = 5.0):
    """Store scores as they arrive, in chunks (one write + fsync every few seconds)."""
    import json
    import time
    from tqdm import tqdm
    bar = tqdm(total=total, desc=f"proxy {name}", unit="code", disable=not progress, mininterval=2)
    pending, last = [], time.time()
    try:
        for code, value, err in results:
            if err:
                raise ProxyError(err)
            cached[code] = value
            pending.append(json.dumps({"arch": code, "score": value}))
            bar.update(1)
            if time.time() - last > flush_s:
                append_lines(path, pending)
                pending, last = [], time.time()
    finally:
        append_lines(path, pending)
        bar.close()
