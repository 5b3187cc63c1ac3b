"""track1.parallel: results, start-up errors and dead workers reach the parent as one-line errors."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Each case runs in its own interpreter (a hang fails by timeout instead of stalling the suite);
# the worker functions live in a module the spawned workers can import.
HELPERS = textwrap.dedent("""
    import os, signal, time
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
