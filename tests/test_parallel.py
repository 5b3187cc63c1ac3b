"""track1.parallel: results, start-up errors and dead workers reach the parent as one-line errors."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Each case runs in its own interpreter (a hang fails by timeout instead of stalling the suite);
# the worker functions live in a module the spawned workers can import.
HELPERS = textwrap.dedent("""
    import os, signal, time
    OMP_AT_IMPORT = os.environ.get("OMP_NUM_THREADS")     # what a module the task imports (Paddle) sees
    def omp_at_import(x):
        return OMP_AT_IMPORT
    def init(bad):
        if bad:
            raise ValueError("no data here")
    def square(x):
        time.sleep(0.01 * (x % 3))        # uneven times, so unordered results do come out of order
        return x * x
    def left():
        # Worker processes still running. The executor's thread may reap a killed worker a
        # moment after us, and until it records the exit code the Process object says
        # "alive": wait a little; a worker still computing would stay.
        import multiprocessing as mp
        t = time.time() + 10
        while mp.active_children() and time.time() < t:
            time.sleep(0.1)
        return len(mp.active_children())
    def pid(x):
        time.sleep(0.02)
        return os.getpid()
    def die(x):
        if x == 5:
            os.kill(os.getpid(), signal.SIGKILL)
        return x
""")


def _run(tmp_path, body, timeout=120):
    (tmp_path / "pool_helpers.py").write_text(HELPERS)
    script = "import pool_helpers as h\nfrom track1.parallel import worker_pool, WorkerError, WorkerStartError\n" + \
        textwrap.dedent(body)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]))
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("chunksize", [1, 4])
def test_imap_order_and_unordered_completeness(tmp_path, chunksize):
    r = _run(tmp_path, f"""
        with worker_pool(2, h.init, (False,)) as pool:
            print(list(pool.imap(h.square, range(30), chunksize={chunksize})))
            print(sorted(pool.imap_unordered(h.square, range(30), chunksize={chunksize})))
    """)
    assert r.returncode == 0, r.stderr
    ordered, unordered = r.stdout.splitlines()
    assert ordered == unordered == str([x * x for x in range(30)])


def test_recycled_workers_take_every_task_and_are_fresh_each_round(tmp_path):
    """The GT runner's pool: rounds of jobs x tasks_per_worker tasks, each in new processes.
    (A ProcessPoolExecutor with max_tasks_per_child hangs here on CPython 3.11: gh-115634,
    which stopped a GT build after 16 runs; the timeout turns a hang into a failure.)"""
    r = _run(tmp_path, """
        from track1.parallel import recycled_imap_unordered
        pids = list(recycled_imap_unordered(2, h.init, (False,), h.pid, range(20), 3))
        print(len(pids), len(set(pids)))
        sq = sorted(recycled_imap_unordered(2, h.init, (False,), h.square, range(13), 2))
        print(sq == [x * x for x in range(13)])
    """, timeout=180)
    assert r.returncode == 0, r.stderr
    counts, complete = r.stdout.splitlines()
    n, distinct = map(int, counts.split())
    # 20 tasks in rounds of 6: four rounds, at most two processes each, none reused
    assert n == 20 and 4 <= distinct <= 8 and complete == "True"


def test_start_error_reaches_parent(tmp_path):
    r = _run(tmp_path, """
        try:
            with worker_pool(2, h.init, (True,)) as pool:
                list(pool.imap(h.square, range(4)))
        except WorkerStartError as e:
            print("caught:", e)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "caught: a worker process failed to start: ValueError: no data here"


def test_killed_worker_is_reported_not_waited_for(tmp_path):
    # multiprocessing.Pool would wait forever here (the timeout would fail the test)
    r = _run(tmp_path, """
        got = []
        try:
            with worker_pool(2, h.init, (False,)) as pool:
                for x in pool.imap(h.die, range(10)):
                    got.append(x)
        except WorkerError as e:
            print("caught:", e)
        print("left:", h.left())
    """)
    assert r.returncode == 0, r.stderr
    caught, left = r.stdout.strip().splitlines()[-2:]
    assert caught.startswith("caught: a worker process died in the middle of a task")
    assert left == "left: 0"


def test_error_in_parent_kills_workers(tmp_path):
    r = _run(tmp_path, """
        try:
            with worker_pool(2, h.init, (False,)) as pool:
                for x in pool.imap(h.square, range(100)):
                    if x == 16:
                        raise KeyError("stop")
        except KeyError:
            pass
        print("left:", h.left())
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "left: 0"


def _gone(pid: int) -> bool:
    # An orphan's zombie may linger if nothing reaps it: a zombie computes nothing.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _kill_parent_and_wait(parent, pids, timeout=10.0):
    """kill -9 of the parent alone; the pids still running after `timeout` seconds."""
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.time() + timeout
    while time.time() < deadline and not all(_gone(p) for p in pids):
        time.sleep(0.1)
    left = [p for p in pids if not _gone(p)]
    for p in left:                      # do not leave them behind if the test fails
        os.kill(p, signal.SIGKILL)
    return left


def _start_parent(tmp_path, body):
    """A parent process that prints its children's pids on one line, then waits to be killed."""
    (tmp_path / "pool_helpers.py").write_text(HELPERS)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]))
    p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(body)], env=env, stdout=subprocess.PIPE,
                         text=True)
    line = p.stdout.readline()
    assert line.strip(), "the parent printed no pids"
    return p, [int(x) for x in line.split()]


def test_workers_end_when_the_parent_is_killed(tmp_path):
    # kill -9 of the parent alone runs no handler there: the workers must notice by themselves
    p, pids = _start_parent(tmp_path, """
        import multiprocessing as mp, time
        import pool_helpers as h
        from track1.parallel import worker_pool
        with worker_pool(2, h.init, (False,)) as pool:
            list(pool.imap(h.square, range(8)))
            print(*[c.pid for c in mp.active_children()], flush=True)
            time.sleep(120)
    """)
    assert len(pids) == 2
    assert _kill_parent_and_wait(p, pids) == []


def test_parent_watchdog_fallback(tmp_path):
    # where the kernel's parent-death signal is not available, a thread polls the parent pid
    p, pids = _start_parent(tmp_path, """
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", '''
        import os, threading, time
        from track1.parallel import _watch_parent
        threading.Thread(target=_watch_parent, args=(os.getppid(), 0.1), daemon=True).start()
        print("ready", flush=True)
        time.sleep(120)
        '''], stdout=subprocess.PIPE, text=True)
        child.stdout.readline()
        print(child.pid, flush=True)
        time.sleep(120)
    """)
    assert _kill_parent_and_wait(p, pids, timeout=5.0) == []


SLOW_START = "import time\ntime.sleep(8)     # a worker's start-up imports (Paddle: 3-12 s on a loaded machine)\n" \
             "def init():\n    pass\n"


def test_workers_end_when_the_parent_is_killed_during_their_start_up(tmp_path):
    # Before a worker reaches its initializer it imports what the task needs (Paddle, seconds
    # on a loaded machine): a parent killed then must not leave it running to the end of them.
    (tmp_path / "slow_start.py").write_text(SLOW_START)
    p, pids = _start_parent(tmp_path, """
        import multiprocessing as mp, time
        import slow_start
        from track1.parallel import worker_pool
        with worker_pool(2, slow_start.init) as pool:
            for _ in range(2):              # spawns the workers; they now import slow_start
                pool._ex.submit(int, 0)
            time.sleep(2)
            print(*[c.pid for c in mp.active_children() if c.name.startswith("SpawnProcess")], flush=True)
            time.sleep(120)
    """)
    assert len(pids) == 2
    assert _kill_parent_and_wait(p, pids, timeout=2.0) == []


def test_workers_take_the_pools_thread_count_before_their_task_imports_anything(tmp_path):
    """A parent running 2 threads (a training run) starts 1-thread workers: the count is in
    the environment before the worker imports its task's modules (Paddle reads it there);
    without `threads` the workers inherit the parent's; the parent's environment is restored."""
    r = _run(tmp_path, """
        import os
        os.environ["OMP_NUM_THREADS"] = "2"
        with worker_pool(2, h.init, (False,), threads=1) as pool:
            print(sorted(set(pool.imap(h.omp_at_import, range(4)))))
        with worker_pool(1, h.init, (False,)) as pool:
            print(sorted(set(pool.imap(h.omp_at_import, range(2)))))
        print(os.environ["OMP_NUM_THREADS"], "TRACK1_WORKER_THREADS" in os.environ)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:3] == ["['1']", "['2']", "2 False"]
