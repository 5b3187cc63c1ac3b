"""Worker processes for CPU-bound jobs (stand-alone runs, proxies, scoring shards).

Spawned (never forked: Paddle's state does not survive a fork), each with its own thread
count, and stopped cleanly: on success the pool is shut down and joined; on any error or
interrupt its workers are killed, so no worker outlives the run. Built on
`concurrent.futures` rather than `multiprocessing.Pool`, because the stdlib pool waits
forever for a worker that was killed mid-task (out of memory, `kill -9`), while a
`ProcessPoolExecutor` reports it. A worker also ends when its parent dies, even by
`kill -9` of the parent alone, which no handler in the parent can see.
"""
from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import ctypes
import functools
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from concurrent.futures.process import BrokenProcessPool

from .errors import UserError

# glibc would hand Paddle's large buffers back to the OS after every op and fault them in
# again (about 10% of the time went to system calls); keep them in the heap.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "4294967296", "MALLOC_TRIM_THRESHOLD_": "17179869184",
              "MALLOC_TOP_PAD_": "536870912"}


def worker_env(threads: int):
    os.environ["OMP_NUM_THREADS"] = str(threads)


class WorkerError(UserError, RuntimeError):
    """A worker process failed outside the task's own code; the message is one line."""


class WorkerStartError(WorkerError):
    """A worker's start-up (data loading, model building) failed."""


_START_ERROR = None


def _guarded_init(parent, initializer, initargs):
    # A raising initializer breaks the whole pool with a message that loses the cause:
    # keep the error and hand it to the parent with the first task instead.
    global _START_ERROR
    die_with_parent(parent)
    try:
        initializer(*initargs)
    except Exception as e:          # noqa: BLE001  (any start-up failure ends the run)
        _START_ERROR = f"{type(e).__name__}: {e}"


PR_SET_PDEATHSIG = 1            # <linux/prctl.h>
# Set in the environment while a pool may start workers: the pid of their parent. A spawned
# worker imports what its task needs before its initializer runs (Paddle: 3-12 s on a loaded
# machine); `track1/__init__` reads this at the worker's first import of track1, before
# those imports, and arms the parent-death signal there (`arm_worker`), so a parent killed
# during a worker's start-up does not leave it running to the end of them.
PARENT_ENV = "TRACK1_WORKER_PARENT"
# The workers' thread count, set the same way: Paddle fixes its thread pool when it is
# imported, before the initializer runs, so a worker spawned by a parent that runs with
# OMP_NUM_THREADS=2 (a training run scoring its RD-NAS teacher) would otherwise keep 2.
THREADS_ENV = "TRACK1_WORKER_THREADS"


def arm_worker():
    """In a process spawned by `worker_pool`: die with the parent from now on, and take the
    pool's thread count. Anything else (another child of that parent, a worker's own child)
    leaves the variables alone or finds them removed: the worker takes them out of its
    environment at once."""
    parent = os.environ.pop(PARENT_ENV, None)
    threads = os.environ.pop(THREADS_ENV, None)
    if parent and "--multiprocessing-fork" in getattr(sys, "orig_argv", sys.argv):
        die_with_parent(int(parent))
        if threads:
            worker_env(int(threads))


def die_with_parent(parent: int, poll_s: float = 1.0):
    """End this process as soon as process `parent` (its parent when started) is gone.

    A `kill -9` of the parent alone runs no handler there, so the parent cannot stop its
    workers; left alone they would compute, blocked, for nobody (about 480 MB each). On
    Linux the kernel sends SIGKILL at the parent's death (PR_SET_PDEATHSIG); elsewhere a
    daemon thread polls the parent pid. (The kernel signal follows the parent *thread* that
    started the worker: the thread that drives the pool, or the executor's manager thread for
    a replacement worker; both outlive the workers they start.)
    """
    if not _set_parent_death_signal():
        threading.Thread(target=_watch_parent, args=(parent, poll_s), daemon=True,
                         name="parent-watchdog").start()
    if os.getppid() != parent:      # died before the signal was armed: it will never come
        os._exit(1)


def _set_parent_death_signal() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int, poll_s: float):
    # An orphan is adopted by init (or a subreaper): its parent pid changes.
    while os.getppid() == parent:
        time.sleep(poll_s)
    os._exit(1)


def _guarded_call(fn, task):
    if _START_ERROR is not None:
        raise WorkerStartError(f"a worker process failed to start: {_START_ERROR}")
    return fn(task)


_DIED = ("a worker process died in the middle of a task (killed, or out of memory?); "
         "results finished so far are kept: rerun the same command to resume")


class GuardedPool:
    """`imap` / `imap_unordered` over a process pool, with at most `window` tasks in flight
    (45,000 candidates are not all turned into futures at once)."""

    def __init__(self, executor, jobs: int):
        self._ex = executor
        self._window = 4 * jobs

    def _submit_chunks(self, fn, tasks, chunksize):
        call = functools.partial(_run_chunk, functools.partial(_guarded_call, fn))
        it = iter(tasks)
        while True:
            chunk = [t for _, t in zip(range(chunksize), it)]
            if not chunk:
                return
            try:
                yield self._ex.submit(call, chunk)
            except BrokenProcessPool:       # a worker died before this submission
                raise WorkerError(_DIED) from None

    def imap(self, fn, tasks, chunksize=1):
        pending = collections.deque()
        futures = self._submit_chunks(fn, tasks, chunksize)
        for fut in futures:
            pending.append(fut)
            while len(pending) >= self._window:
                yield from _result(pending.popleft())
        while pending:
            yield from _result(pending.popleft())

    def imap_unordered(self, fn, tasks, chunksize=1):
        pending = set()
        for fut in self._submit_chunks(fn, tasks, chunksize):
            pending.add(fut)
            if len(pending) >= self._window:
                done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for d in done:
                    yield from _result(d)
        while pending:
            done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for d in done:
                yield from _result(d)


def _run_chunk(fn, chunk):
    return [fn(t) for t in chunk]


def _result(fut):
    try:
        return fut.result()
    except BrokenProcessPool:
        raise WorkerError(_DIED) from None


@contextlib.contextmanager
def worker_pool(jobs: int, initializer, initargs=(), threads: int | None = None):
    """A GuardedPool of `jobs` spawned workers, each run through `initializer(*initargs)`,
    with `threads` threads each (None: the parent's OMP_NUM_THREADS).
    No max_tasks_per_child: in CPython 3.11-3.13 a ProcessPoolExecutor with it deadlocks
    once its workers retire with tasks still queued (gh-115634; seen here: a GT build hung
    after 16 runs); `recycled_imap_unordered` gives fresh workers instead."""
    if jobs < 1:
        raise WorkerStartError(f"need at least one worker process, got {jobs}")
    for k, v in MALLOC_ENV.items():
        os.environ.setdefault(k, v)
    before = set(mp.active_children())
    old_env = {k: os.environ.get(k) for k in (PARENT_ENV, THREADS_ENV)}
    os.environ[PARENT_ENV] = str(os.getpid())
    if threads is not None:
        os.environ[THREADS_ENV] = str(threads)
    ex = cf.ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"), initializer=_guarded_init,
                                initargs=(os.getpid(), initializer, initargs))
    # A plain `kill` (SIGTERM) would end this process without unwinding, leaving the workers
    # computing for nobody: turn it into an exception so the workers are killed below.
    old = None
    if threading.current_thread() is threading.main_thread():
        old = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        yield GuardedPool(ex, jobs)
        ex.shutdown(wait=True)
    except BaseException:
        ex.shutdown(wait=False, cancel_futures=True)
        # The executor has no public way to stop a running task: end its processes, which
        # are this process's children that did not exist before it. Once they are gone the
        # executor's own thread winds down, and waiting for it means none is started after.
        _kill_new_children(before)
        ex.shutdown(wait=True)
        _kill_new_children(before)
        raise
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _kill_new_children(before):
    workers = [p for p in mp.active_children() if p not in before]
    for p in workers:
        p.kill()
    for p in workers:
        p.join()


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)


def recycled_imap_unordered(jobs: int, initializer, initargs, fn, tasks, tasks_per_worker: int,
                            threads: int | None = None):
    """`imap_unordered` of `fn` over `tasks` in rounds of `jobs * tasks_per_worker`, each
    round in a fresh pool: what max_tasks_per_child is for (a worker's memory growth across
    many Paddle programs stays bounded) without its deadlock. A round's last task leaves
    the other workers idle until it ends: short relative to a round of many tasks."""
    tasks = list(tasks)
    size = jobs * tasks_per_worker
    for start in range(0, len(tasks), size):
        with worker_pool(jobs, initializer, initargs, threads) as pool:
            yield from pool.imap_unordered(fn, tasks[start:start + size])
