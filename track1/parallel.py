"""Worker processes for CPU-bound jobs (stand-alone runs, proxies, scoring shards).

Spawned (never forked: Paddle's state does not survive a fork), each with its own thread
count, and stopped cleanly: the pool is closed and joined on success and terminated on
any error or interrupt, so no worker outlives the run.
"""
from __future__ import annotations

import contextlib
import functools
import multiprocessing as mp
import os
import signal
import threading

# glibc would hand Paddle's large buffers back to the OS after every op and fault them in
# again (about 10% of the time went to system calls); keep them in the heap.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "4294967296", "MALLOC_TRIM_THRESHOLD_": "17179869184",
              "MALLOC_TOP_PAD_": "536870912"}


def worker_env(threads: int):
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ.setdefault("GLOG_minloglevel", "2")


class WorkerStartError(RuntimeError):
    """A worker's start-up (data loading, model building) failed; the message is one line."""


_START_ERROR = None


def _guarded_init(initializer, initargs):
    # A raising initializer makes multiprocessing respawn the worker forever while the
    # parent waits: keep the error and hand it to the parent with the first task instead.
    global _START_ERROR
    try:
        initializer(*initargs)
    except Exception as e:          # noqa: BLE001  (any start-up failure ends the run)
        _START_ERROR = f"{type(e).__name__}: {e}"


def _guarded_call(fn, task):
    if _START_ERROR is not None:
        raise WorkerStartError(f"a worker process failed to start: {_START_ERROR}")
    return fn(task)


class GuardedPool:
    """The pool's `imap` / `imap_unordered`, with start-up errors raised in the parent."""

    def __init__(self, pool):
        self._pool = pool

    def imap(self, fn, tasks, chunksize=1):
        return self._pool.imap(functools.partial(_guarded_call, fn), tasks, chunksize)

    def imap_unordered(self, fn, tasks, chunksize=1):
        return self._pool.imap_unordered(functools.partial(_guarded_call, fn), tasks, chunksize)


@contextlib.contextmanager
def worker_pool(jobs: int, initializer, initargs=(), maxtasksperchild=None):
    if jobs < 1:
        raise WorkerStartError(f"need at least one worker process, got {jobs}")
    for k, v in MALLOC_ENV.items():
        os.environ.setdefault(k, v)
    pool = mp.get_context("spawn").Pool(jobs, initializer=_guarded_init, initargs=(initializer, initargs),
                                        maxtasksperchild=maxtasksperchild)
    # A plain `kill` (SIGTERM) would end this process without unwinding, leaving the workers
    # computing for nobody: turn it into an exception so the pool is terminated below.
    old = None
    if threading.current_thread() is threading.main_thread():
        old = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        yield GuardedPool(pool)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)
