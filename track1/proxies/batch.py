"""Proxy scores of many codes with an on-disk cache: computed once, reused by training.

Cache file per (profile, proxy, seed, settings): one JSON line {"arch", "score"} per code,
appended as scores arrive, so an interrupted run resumes where it stopped.

Proxies that need a network run in worker processes on the config's `device` (the GPU when
there is one). A network initialised on a GPU draws its weights from the GPU's generator,
not the CPU's, so the same seed gives other networks: GPU scores get their own cache
(the device joins the identity; CPU caches keep their names).
"""
from __future__ import annotations

import os
from pathlib import Path

from ..config import repo_path
from ..identity import SPLIT, identity_hash
from ..io_utils import FileLock, append_lines, read_jsonl
from ..parallel import worker_env, worker_pool
from ..runtime.device import resolve, use
from .base import PROXIES, ProxyError, proxy_settings, score

_W = {}


def cache_path(cfg, name: str) -> Path:
    """The cache file of proxy `name` under this config: its identity (identity.py) names it."""
    needs_net = PROXIES.meta(name)["needs_net"]
    real = needs_net and cfg["proxies"]["data"] == "real"
    gpu = {"device": "gpu"} if needs_net and resolve(cfg["device"]) == "gpu" else {}
    ident = identity_hash("proxy", cfg, extra_keys=SPLIT if real else (), proxy=name,
                          version=PROXIES.meta(name).get("version", 1), **gpu)
    return repo_path(cfg["proxies"]["cache_dir"]) / f"{cfg['profile']['name']}-{name}-s{cfg['proxies']['seed']}-{ident}.jsonl"


def _load_data(settings, data, profile):
    if settings["data"] != "real":
        return None
    from ..data import load_splits
    return load_splits(data, profile)["train"].arrays(limit=4096)


def _init(proxies, data, profile, threads, device=None):
    """A worker (or, for analytic proxies, this process: `device` None, nothing selected)."""
    worker_env(threads)
    if device is not None:
        use(device)
    settings = proxy_settings(proxies, profile)
    _W.update(profile=profile, settings=settings, data=_load_data(settings, data, profile))


def score_task(task):
    """(name, code) -> (code, score, error or None), in a `net_workers` process (or this one)."""
    name, code = task
    try:
        return code, score(name, _W["profile"], code, _W["settings"]["seed"], _W["settings"], _W["data"]), None
    except ProxyError as e:
        return code, None, str(e)


def compute_many(cfg, profile, name: str, codes, jobs: int = 1, progress: bool = True) -> dict:
    """{code: signed score} for `codes` (canonical); cached scores are read, missing ones
    computed (proxies that need a network by `jobs` worker processes)."""
    PROXIES.get(name)
    path = cache_path(cfg, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path):
        cached = {r["arch"]: r["score"] for r in read_jsonl(path, repair=True)}
        todo = [c for c in dict.fromkeys(codes) if c not in cached]
        if todo and not PROXIES.meta(name)["needs_net"]:
            _init(cfg["proxies"], cfg["data"], profile, int(os.environ.get("OMP_NUM_THREADS", "1")))
            results = map(score_task, [(name, c) for c in todo])
            store_scores(results, path, cached, name, len(todo), progress)
        elif todo:
            with net_workers(cfg, profile, jobs) as pool:
                results = pool.imap(score_task, [(name, c) for c in todo], chunksize=8)
                store_scores(results, path, cached, name, len(todo), progress)
    return {c: cached[c] for c in codes}


def net_workers(cfg, profile, jobs: int):
    """The worker pool that scores network proxies (1 thread each, on the config's device);
    its `imap(score_task, [(name, code), ...])` yields (code, score, error or None)."""
    return worker_pool(jobs, _init, (cfg["proxies"], cfg["data"], profile, 1, resolve(cfg["device"])), threads=1)


def store_scores(results, path, cached, name, total, progress, flush_s: float = 5.0):
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
