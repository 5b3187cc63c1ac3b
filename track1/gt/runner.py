"""Run many (code, seed) stand-alone trainings into one results file, resumably.

One line per finished run, appended whole (a single O_APPEND write + fsync), so killing
anything at any moment loses at most the runs in progress. A restart with the same
arguments skips finished pairs. A results file with another protocol is refused.

Under `python -m paddle.distributed.launch` (one rank per GPU; on a CPU, processes) the
ranks share the pending runs. Rank 0 is the coordinator: it holds the results file's lock
for the whole invocation, reads what is done and writes the plan (the pending runs, tagged
with this launch's identity) beside the file; rank r trains every world-th planned run (r,
r + world, ...) on its own device and appends its records to the same file (appends of whole
lines by several processes are safe on a local file system; an append that fails, a full disk,
is cut back and may take another rank's record written meanwhile with it: that run is trained
again by the rerun); rank 0 releases the lock once
every planned run is recorded. Another invocation on the same file, launched or not, finds
the lock held and is refused, and ranks never take the plan of another launch. A killed
launch resumes like a killed process: rerun it (the launcher stops every rank when one fails).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import time
from pathlib import Path

from ..errors import InputError, UserError
from ..io_utils import FileLock, append_line, atomic_write_json, read_json_file, read_jsonl
from ..parallel import recycled_imap_unordered, worker_env
from ..version import code_version, host_cpu
from ..standalone.protocol import protocol_hash

_WORKER = {}
# Fresh worker processes every this many runs each (Paddle programs of many runs would
# otherwise grow one process's memory).
RUNS_PER_WORKER = 8


class ProtocolMismatch(UserError, RuntimeError):
    pass


class LaunchError(UserError, RuntimeError):
    """Ranks of one launch that cannot agree on the work."""


# The fields of a run record that measure this run on its machine, not its result: two runs
# of one code and seed on one machine (CPU, thread count) and code version differ in these
# alone (the trainer writes the first three, `_train` the last). A CPU time beside the wall
# time because a run paused by `kill -STOP` counts the pause in its wall time, not in its CPU
# time. benchmarks/faults.py keeps a copy (it imports no track1): tests/test_gt.py checks it.
MEASURED = ("train_img_per_s", "wall_s", "cpu_s", "finished")


def finished_pairs(path, protocol: str, repair: bool = True) -> set:
    done = set()
    for i, r in enumerate(read_jsonl(path, repair=repair), 1):
        if r.get("protocol") != protocol:
            raise ProtocolMismatch(f"results file '{path}' line {i} has protocol {r.get('protocol')}, "
                                   f"this config has {protocol}: use another --out (protocols never mix)")
        done.add((r["arch"], int(r["seed"])))
    return done


def _init_worker(standalone, data, profile, threads, parent, backend="static", device="cpu"):
    worker_env(threads)
    from ..data import load_splits
    from ..runtime.device import use
    use(device)
    _WORKER.update(st=dict(standalone, backend=backend), data=data, profile=profile,
                   splits=load_splits(data, profile), parent=parent)


def _orphan_check(step, total, loss):
    # A killed parent must not leave workers burning CPU for results nobody will write.
    if os.getppid() != _WORKER["parent"]:
        os._exit(3)


def _run_task(task):
    from ..standalone.trainer import train_one
    key, code, seed, curve, predictions, weights_out = task
    w = _WORKER
    try:
        rec = train_one(w["st"], w["data"], w["profile"], code, seed, w["splits"], curve=curve,
                        on_step=_orphan_check, predictions=predictions, weights_out=weights_out)
    except FloatingPointError as e:
        # Training is deterministic: a rerun would diverge again and block the build. The run
        # is recorded as a fact of the protocol; summaries and GT files leave it out.
        rec = {"arch": code, "seed": int(seed), "diverged": str(e), **w["profile"].cost(code)}
    return key, rec


def weights_path(folder, code: str, seed: int) -> Path:
    """Where `run_all(weights_dir=folder)` keeps a run's network: FOLDER/CODE-sSEED.npz (the
    last iterate, BN re-estimated: the network the run's `acc` measured)."""
    return Path(folder) / f"{code}-s{int(seed)}.npz"


def plan_runs(codes, seeds, order: str = "seed") -> list:
    """[(key, code, seed)]: `order` seed runs every code with the first seed before the next
    seed; code runs a code's seeds one after the other (a study's first codes have them all)."""
    if order == "seed":
        return [(k, c, s) for s in seeds for k, c in codes]
    return [(k, c, s) for k, c in codes for s in seeds]


def launch_identity() -> tuple:
    """(rank, world, launch id) under `python -m paddle.distributed.launch`, else (0, 1, None).
    The id is the same in every rank of one launch and differs between launches: the
    launcher's process (every rank's parent) and its endpoints. One node only: the ranks
    share the results file through the local file system."""
    world = int(os.environ.get("PADDLE_TRAINERS_NUM", "1"))
    if world <= 1:
        return 0, 1, None
    if int(os.environ.get("PADDLE_NNODES", "1")) > 1:
        raise LaunchError("stand-alone runs under the launcher use one node (the ranks share the results file "
                          "on its local file system): launch one job per node, each with its own --out")
    rank = int(os.environ.get("PADDLE_TRAINER_ID", "0"))
    ident = "|".join([str(os.getppid())] + [os.environ.get(k, "") for k in ("PADDLE_MASTER", "PADDLE_TRAINER_ENDPOINTS")])
    return rank, world, hashlib.sha256(ident.encode()).hexdigest()[:16]


def plan_path(out) -> Path:
    return Path(f"{out}.plan.json")


def run_all(cfg, profile, tasks, out, jobs: int = 1, curve: bool = False, predictions: bool = False,
            log=print, launch=None, poll_s: float = 5.0, weights_dir=None) -> dict:
    """Run `tasks` ([(key or None, canonical code, seed)]) under the protocol of `cfg` into
    the results file `out`; `predictions` records each run's per-image predicted classes (for
    the repeated codes: seed-to-seed disagreement); `weights_dir` keeps each run's trained
    network (`weights_path`). `launch`: (rank, world, launch id), by default from the
    launcher's environment. Returns this process's counts."""
    from ..standalone.trainer import resolve_backend
    protocol = protocol_hash(cfg)
    backend, kind = resolve_backend(cfg["standalone"]["backend"], cfg["device"])
    rank, world, ident = launch or launch_identity()
    # A pair asked twice (a code in two files, --seeds 0 0) runs once, under its first key.
    tasks = list({(c, s): (k, c, s) for k, c, s in reversed(tasks)}.values())[::-1]
    run = dict(cfg=cfg, profile=profile, out=out, jobs=jobs, extra=(curve, predictions, weights_dir), backend=backend,
               kind=kind, protocol=protocol, log=log if world == 1 else (lambda m: log(f"[rank {rank}/{world}] {m}")))
    if rank > 0:
        todo = _read_plan(out, ident, world, protocol, poll_s)
        ran = _train(run, todo[rank::world])
        return {"asked": len(tasks), "done_before": len(tasks) - len(todo), "ran": ran}
    with FileLock(out):
        done = finished_pairs(out, protocol)
        todo = [(k, c, s) for k, c, s in tasks if (c, s) not in done]
        if weights_dir:
            bare = [(c, s) for _, c, s in tasks if (c, s) in done and not weights_path(weights_dir, c, s).exists()]
            if bare:
                log(f"warning: {len(bare)} run(s) finished in {out} before --weights have no weights in "
                    f"{weights_dir} (e.g. {bare[0][0]} seed {bare[0][1]}): a new --out trains them again")
        split = f" over {world} ranks" if world > 1 else ""
        log(f"{len(tasks)} runs asked, {len(tasks) - len(todo)} already in {out}, {len(todo)} to do{split} "
            f"with {jobs} worker(s){' each' if split else ''} ({backend} backend on the {kind.upper()}), "
            f"protocol {protocol}")
        if world > 1:
            atomic_write_json(plan_path(out), {"launch": ident, "world": world, "protocol": protocol,
                                               "todo": [list(t) for t in todo]})
        try:
            ran = _train(run, todo[0::world])
            if world > 1:
                _wait_for_ranks(out, protocol, todo, run["log"], poll_s)
        finally:
            if world > 1:
                plan_path(out).unlink(missing_ok=True)
    return {"asked": len(tasks), "done_before": len(tasks) - len(todo), "ran": ran}


def _train(run, todo) -> int:
    """Train this process's runs `todo` in a pool of `run["jobs"]` workers; records appended."""
    log = run["log"]
    if not todo:
        log("nothing to train here")
        return 0
    curve, predictions, weights_dir = run["extra"]
    version, cpu = code_version(), host_cpu()
    st = run["cfg"]["standalone"]
    t0, ran = time.time(), 0
    init = (st, run["cfg"]["data"], run["profile"], st["threads"], os.getpid(), run["backend"], run["kind"])
    tasks = [(k, c, s, curve, predictions, weights_dir and str(weights_path(weights_dir, c, s))) for k, c, s in todo]
    # closing(): an error here (a full disk) ends the workers now, not when the generator is collected.
    results = recycled_imap_unordered(run["jobs"], _init_worker, init, _run_task, tasks, RUNS_PER_WORKER,
                                      threads=st["threads"])
    with contextlib.closing(results):
        for key, rec in results:
            # threads beside cpu: the protocol hash leaves both out, and both change the rounding.
            rec.update(protocol=run["protocol"], code_version=version, cpu=cpu, threads=st["threads"],
                       finished=time.strftime("%Y-%m-%dT%H:%M:%S"))
            if key is not None:
                rec = {"key": key, **rec}
            append_line(run["out"], _dumps(rec))
            ran += 1
            eta = (time.time() - t0) / ran * (len(todo) - ran)
            what = (f"DIVERGED: {rec['diverged']}" if "diverged" in rec else
                    f"acc {rec['acc']:.4f} loss {rec['test_loss']:.4f}")
            wall = f"{rec['wall_s']:.0f}s, " if "wall_s" in rec else ""
            log(f"[{ran}/{len(todo)}] {rec.get('key', '')} {rec['arch']} seed {rec['seed']}: {what} "
                f"({wall}ETA {eta / 60:.0f} min)")
            sys.stdout.flush()
    return ran


def _read_plan(out, ident, world: int, protocol: str, poll_s: float, timeout_s: float = 900.0) -> list:
    """A rank > 0: the pending runs rank 0 of this launch planned (a plan left by another
    launch is not this one's: wait for ours)."""
    path, t0 = plan_path(out), time.time()
    while True:
        plan = None
        if path.is_file():
            try:
                plan = read_json_file(path, "run plan")
            except InputError:          # being replaced: read it again
                plan = None
        if plan is not None and plan.get("launch") == ident:
            if plan.get("world") != world or plan.get("protocol") != protocol:
                raise LaunchError(f"run plan '{path}': rank 0 planned for {plan.get('world')} ranks under protocol "
                                  f"{plan.get('protocol')}, this rank has {world} and {protocol} (same arguments?)")
            return [tuple(t) for t in plan["todo"]]
        if time.time() - t0 > timeout_s:
            raise LaunchError(f"no run plan from rank 0 of this launch in '{path}' after {timeout_s:.0f} s "
                              f"(is '{out}' in use by another run? rank 0's log says)")
        time.sleep(poll_s)


def _wait_for_ranks(out, protocol: str, todo, log, poll_s: float):
    """Rank 0: hold the lock until every planned run is recorded (the other ranks append)."""
    want = {(c, s) for _, c, s in todo}
    said = None
    while True:
        try:
            missing = want - finished_pairs(out, protocol, repair=False)
        except InputError:              # a line being appended: look again
            missing = want
        if not missing:
            return
        if len(missing) != said:
            log(f"waiting for the other ranks: {len(want) - len(missing)} of the {len(want)} planned runs recorded")
            said = len(missing)
        time.sleep(poll_s)


def _dumps(rec) -> str:
    import json
    return json.dumps(rec, separators=(",", ":"))
