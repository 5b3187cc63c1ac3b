"""The fault-injection harness of benchmarks/faults.py in a reduced form (issue 18): a few
kill -9 of the process group per tool, a kill of the parent alone, two runs on one output.
The first tests check that the harness's own checks can fail: each is handed a corrupted
result, a duplicate, a loss, a surviving process. (`-m "not faults"` leaves the tests that
run the tools out.)"""
import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent


def _load_harness():
    spec = importlib.util.spec_from_file_location("faults_harness", REPO / "benchmarks" / "faults.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module         # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


F = _load_harness()
needs_proc = pytest.mark.skipif(not os.path.exists("/proc/locks"), reason="needs Linux /proc")


# ------------------------------------------------------------------ the checks can fail
def _supernet(folder: Path, arrays: dict, steps):
    folder.mkdir(parents=True)
    meta = {"history": [{"epoch": s / 4, "step": s, "time_s": 0.1 * s, "loss": 1.0 / s} for s in steps]}
    np.savez(folder / "supernet.npz", **arrays, __meta__=np.array(json.dumps(meta)))


def test_training_check_detects_a_flipped_bit_a_duplicate_and_a_loss(tmp_path):
    w = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    _supernet(tmp_path / "ref", {"w": w}, [4, 8, 12])
    _supernet(tmp_path / "same", {"w": w.copy()}, [4, 8, 12])
    same = F.compare_training(tmp_path / "same", tmp_path / "ref")
    assert same.identical and same.duplicates == same.lost == 0
    flipped = w.copy()
    flipped.view(np.uint32)[1, 2] ^= 1                  # one bit of one float
    _supernet(tmp_path / "bit", {"w": flipped}, [4, 8, 12])
    bit = F.compare_training(tmp_path / "bit", tmp_path / "ref")
    assert not bit.identical and "tensor w differs" in bit.notes
    _supernet(tmp_path / "dup", {"w": w}, [4, 8, 8, 12])
    assert F.compare_training(tmp_path / "dup", tmp_path / "ref").duplicates == 1
    _supernet(tmp_path / "lost", {"w": w}, [4, 12])
    lost = F.compare_training(tmp_path / "lost", tmp_path / "ref")
    assert lost.lost == 1 and not lost.identical


def _scored(folder: Path, scores: dict, lines=None) -> Path:
    folder.mkdir(parents=True)
    sub = folder / "submission.json"
    sub.write_text(json.dumps({f"arch{i}": {"arch": "x", "acc": s} for i, s in scores.items()}))
    rows = [json.dumps({"header": True})] + [json.dumps({"i": i, "score": s}) for i, s in scores.items()]
    F.partial_file(sub).write_text("\n".join(lines if lines is not None else rows) + "\n")
    return sub


def test_scoring_check_detects_a_changed_score_a_duplicate_a_loss_and_a_torn_line(tmp_path):
    ref = _scored(tmp_path / "ref", {0: 0.5, 1: 0.25, 2: 0.125})
    ok = F.compare_scoring(_scored(tmp_path / "ok", {0: 0.5, 1: 0.25, 2: 0.125}), ref, 3)
    assert ok.identical and ok.duplicates == ok.lost == 0
    assert not F.compare_scoring(_scored(tmp_path / "changed", {0: 0.5, 1: 0.25, 2: 0.1251}), ref, 3).identical
    dup = ['{"header": true}', '{"i": 0, "score": 0.5}', '{"i": 0, "score": 0.5}', '{"i": 1, "score": 0.25}']
    c = F.compare_scoring(_scored(tmp_path / "dup", {0: 0.5, 1: 0.25, 2: 0.125}, dup), ref, 3)
    assert c.duplicates == 1 and c.lost == 1
    torn = _scored(tmp_path / "torn", {0: 0.5, 1: 0.25, 2: 0.125})
    part = F.partial_file(torn)
    part.write_bytes(part.read_bytes() + b'{"i": 3, "sc')
    c = F.compare_scoring(torn, ref, 3)
    assert not c.identical and any("torn last line" in n for n in c.notes)


def _runs(path: Path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_gt_check_ignores_timing_but_not_values_duplicates_or_losses(tmp_path):
    a = {"arch": "c1", "seed": 0, "acc": 0.5, "wall_s": 3.0, "finished": "t1"}
    b = {"arch": "c1", "seed": 1, "acc": 0.6, "wall_s": 3.0, "finished": "t1"}
    ref = _runs(tmp_path / "ref.jsonl", [a, b])
    timing = F.compare_gt(_runs(tmp_path / "t.jsonl", [{**b, "wall_s": 9.0}, {**a, "finished": "t2"}]), ref)
    assert timing.identical and timing.duplicates == timing.lost == 0
    assert not F.compare_gt(_runs(tmp_path / "v.jsonl", [a, {**b, "acc": 0.61}]), ref).identical
    dup = F.compare_gt(_runs(tmp_path / "d.jsonl", [a, a, b]), ref)
    assert dup.duplicates == 1 and not dup.identical
    lost = F.compare_gt(_runs(tmp_path / "l.jsonl", [b]), ref)
    assert lost.lost == 1 and not lost.identical


def test_a_message_glued_to_a_progress_bar_is_not_one_line():
    bar = "scoring:  40%|████      | 48/120 [00:29<00:35,  2.04cand/s]"
    ok = F.Attempt(2, False, 1.0, "", f"\r{bar}\r{bar}\nerror: cannot append to 'x': No space left on device\n", [])
    assert F.one_line_refusal(ok, "No space left") is None
    glued = F.Attempt(2, False, 1.0, "", f"\r{bar}error: cannot append to 'x': No space left on device\n\r{bar}", [])
    assert F.one_line_refusal(glued, "No space left") is not None
    tb = F.Attempt(2, False, 1.0, "", "Traceback (most recent call last):\nerror: x\n", [])
    assert F.one_line_refusal(tb, "x") is not None
    assert F.one_line_refusal(F.Attempt(0, False, 1.0, "", "", []), "x") is not None


ESCAPE = """
import os, subprocess, sys, time
# a child that leaves the process group (setsid): a group kill does not reach it
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
time.sleep(60)
"""


@needs_proc
def test_a_process_that_survives_the_group_kill_is_found(tmp_path):
    a = F.run_attempt([sys.executable, "-c", ESCAPE], tmp_path / "logs", str(tmp_path), kill_at=3.0)
    assert a.killed and len(a.left) == 1 and "time.sleep(60)" in a.left[0].cmdline
    time.sleep(0.5)
    assert F.leftovers(set(), {q.pid: q for q in a.left}, "") == []      # run_attempt reaped it
    clean = F.run_attempt([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "logs", str(tmp_path),
                          kill_at=1.0)
    assert clean.killed and clean.left == []


@needs_proc
def test_a_process_naming_the_work_folder_is_found(tmp_path):
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(tmp_path / "marker")])
    try:
        time.sleep(0.5)
        assert [q.pid for q in F.leftovers(set(), {}, str(tmp_path))] == [p.pid]
    finally:
        p.kill()
        p.wait()
    assert F.leftovers(set(), {}, str(tmp_path)) == []


@needs_proc
def test_a_lock_is_seen_in_proc_locks(tmp_path):
    lock = tmp_path / "out.lock"
    script = f"import fcntl, os, time; fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT); " \
             "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)"
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        assert F.locked(lock, {p.pid}) and not F.locked(lock, {os.getpid()})
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    assert not F.locked(lock, {p.pid})


# ------------------------------------------------------------------ the tools under faults
@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    s = F.Shared(root, n_candidates=40, n_codes=4, n_disk_candidates=0, log=lambda m: None)
    F.prepare(s)
    return s


def _clean(row):
    assert not row.skipped, row.skipped
    assert (row.identical, row.duplicates, row.lost, row.workers_left, row.locks_left) == (True, 0, 0, 0, 0), \
        F.table([row])


@needs_proc
@pytest.mark.faults
@pytest.mark.parametrize("tool", ["training", "scoring", "GT build"])
def test_kill_9_at_random_moments_then_resume(shared, tool):
    job = {"training": F.TrainJob, "scoring": F.ScoreJob, "GT build": F.GTJob}[tool](shared)
    row = F.kill_restart(job, kills=2, rng=random.Random(7), log=lambda m: None)
    _clean(row)
    assert row.faults == row.restarts == 2 and row.rounds >= 1


@needs_proc
@pytest.mark.faults
def test_kill_of_the_parent_alone_leaves_no_worker(shared):
    row = F.parent_kill(F.ScoreJob(shared), "starting", log=lambda m: None)
    _clean(row)
    assert row.faults == 1 and row.rounds == 1


@needs_proc
@pytest.mark.faults
@pytest.mark.parametrize("tool", ["training", "GT build"])
def test_a_second_run_on_one_output_is_refused(shared, tool):
    job = {"training": F.TrainJob, "GT build": F.GTJob}[tool](shared)
    row = F.two_runs(job, log=lambda m: None)
    _clean(row)
    assert row.faults == 1 and any("second refused" in n for n in row.notes), row.notes
