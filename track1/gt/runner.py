"""Run many (code, seed) stand-alone trainings into one results file, resumably.

One line per finished run, appended by the parent process only (single write + fsync), so
killing anything at any moment loses at most the runs in progress. A restart with the
same arguments skips finished pairs. A results file with another protocol is refused.
"""
from __future__ import annotations

import os
import sys
import time

from ..errors import UserError
from ..io_utils import FileLock, append_line, read_jsonl
from ..parallel import worker_env, worker_pool
from ..version import code_version
from ..standalone.protocol import protocol_hash

_WORKER = {}


class ProtocolMismatch(UserError, RuntimeError):
    pass


def finished_pairs(path, protocol: str) -> set:
    done = set()
    for i, r in enumerate(read_jsonl(path, repair=True), 1):
        if r.get("protocol") != protocol:
            raise ProtocolMismatch(f"results file '{path}' line {i} has protocol {r.get('protocol')}, "
                                   f"this config has {protocol}: use another --out (protocols never mix)")
        done.add((r["arch"], int(r["seed"])))
    return done


def _init_worker(standalone, data, profile, threads, parent):
    worker_env(threads)
    from ..data import load_splits
    _WORKER.update(st=standalone, data=data, profile=profile, splits=load_splits(data, profile), parent=parent)


def _orphan_check(step, total, loss):
    # A killed parent must not leave workers burning CPU for results nobody will write.
    if os.getppid() != _WORKER["parent"]:
        os._exit(3)


def _run_task(task):
    from ..standalone.trainer import train_one
    key, code, seed, curve, predictions = task
    w = _WORKER
    try:
        rec = train_one(w["st"], w["data"], w["profile"], code, seed, w["splits"], curve=curve,
                        on_step=_orphan_check, predictions=predictions)
    except FloatingPointError as e:
        # Training is deterministic: a rerun would diverge again and block the build. The run
        # is recorded as a fact of the protocol; summaries and GT files leave it out.
        rec = {"arch": code, "seed": int(seed), "diverged": str(e), **w["profile"].cost(code)}
    return key, rec


def plan_runs(codes, seeds, order: str = "seed") -> list:
    """[(key, code, seed)]: `order` seed runs every code with the first seed before the next
    seed; code runs a code's seeds one after the other (a study's first codes have them all)."""
    if order == "seed":
        return [(k, c, s) for s in seeds for k, c in codes]
    return [(k, c, s) for k, c in codes for s in seeds]


def run_all(cfg, profile, tasks, out, jobs: int = 1, curve: bool = False, predictions: bool = False,
            log=print) -> dict:
    """Run `tasks` ([(key or None, canonical code, seed)]) under the protocol of `cfg` into
    the results file `out`; `predictions` records each run's per-image predicted classes (for
    the repeated codes: seed-to-seed disagreement). Returns counts."""
    protocol = protocol_hash(cfg)
    version = code_version()
    threads = cfg["standalone"]["threads"]
    with FileLock(out):
        done = finished_pairs(out, protocol)
        # A pair asked twice (a code in two files, --seeds 0 0) runs once, under its first key.
        tasks = list({(c, s): (k, c, s) for k, c, s in reversed(tasks)}.values())[::-1]
        todo = [(k, c, s, curve, predictions) for k, c, s in tasks if (c, s) not in done]
        log(f"{len(tasks)} runs asked, {len(tasks) - len(todo)} already in {out}, {len(todo)} to do "
            f"with {jobs} worker(s), protocol {protocol}")
        if not todo:
            return {"asked": len(tasks), "done_before": len(tasks), "ran": 0}
        t0, ran = time.time(), 0
        init = (cfg["standalone"], cfg["data"], profile, threads, os.getpid())
        with worker_pool(jobs, _init_worker, init, maxtasksperchild=8) as pool:
            for key, rec in pool.imap_unordered(_run_task, todo):
                rec.update(protocol=protocol, code_version=version,
                           finished=time.strftime("%Y-%m-%dT%H:%M:%S"))
                if key is not None:
                    rec = {"key": key, **rec}
                append_line(out, _dumps(rec))
                ran += 1
                eta = (time.time() - t0) / ran * (len(todo) - ran)
                what = (f"DIVERGED: {rec['diverged']}" if "diverged" in rec else
                        f"acc {rec['acc']:.4f} loss {rec['test_loss']:.4f}")
                wall = f"{rec['wall_s']:.0f}s, " if "wall_s" in rec else ""
                log(f"[{ran}/{len(todo)}] {rec.get('key', '')} {rec['arch']} seed {rec['seed']}: {what} "
                    f"({wall}ETA {eta / 60:.0f} min)")
                sys.stdout.flush()
        return {"asked": len(tasks), "done_before": len(tasks) - len(todo), "ran": ran}


def _dumps(rec) -> str:
    import json
    return json.dumps(rec, separators=(",", ":"))
