"""Fault injection (issue 18): kill -9 at random moments, restart, and prove nothing is lost.

    python benchmarks/faults.py [--kills N] [--seed S] [--out results.json] [--keep]

For each of supernet training (`tools/train.py`, `--resume` on restarts), scoring
(`tools/predict.py` on a small supernet trained once here, 60 sampled candidates, 8 a chunk,
2 workers) and the GT build (`tools/train_standalone.py`, 6 codes x 2 seeds, 2 workers), all
on tiny fashion_mnist settings:

* kill -9 of the whole process group at N seeded moments drawn within the uninterrupted
  run's measured duration, restarting the same command after each kill until it completes.
  A restart that completes before its moment ends a round: its result is checked, and the
  remaining moments go to a new round from a clean output (a moment later than a whole
  fresh run is drawn again). Checked after every round: the result equals the uninterrupted
  run's (training: every supernet.npz array bit for bit; scoring: the submission byte for
  byte; GT: the same (code, seed) records with the same values, timing fields aside),
  nothing duplicated, nothing lost, and no process of the run left (its session, its
  process tree, anything whose command line names the work folder);
* kill -9 of the parent alone during scoring and during the GT build, once while the workers
  start and once while they compute: every worker must be gone within WORKER_GRACE_S;
* two runs on one output at once (each tool): the second is refused with one line, exit 2,
  and the first completes with the uninterrupted result;
* a full disk during appends (a small tmpfs; root only, else skipped with the reason):
  the run fails with one line, exit 2; a rerun after space is freed resumes to the
  uninterrupted result with no torn or duplicated record.

Prints a table (tool, faults injected, restarts, results identical, duplicates, lost, workers
left) and writes it with the details as JSON (`--out`). tests/test_faults.py runs the same
harness with fewer kills.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
WORKER_GRACE_S = 5.0            # "workers exit within a few seconds" of their parent's death
SETTLE_S = 3.0                  # after a group kill: time for the kernel to deliver and reap
POLL_S = 0.1
STARTING_S = 1.0                # a parent killed "while its workers start": this long after they appear

TRAIN_SET = ["train.train_images=128", "train.batch_size=32", "train.epochs=3", "train.warmup_epochs=0",
             "train.eval_images=0", "train.gt=null", "train.engine=dygraph", "train.strategy=spos"]
SCORE_SET = ["score.chunk=8", "score.jobs=2", "score.images=16"]
GT_SET = ["standalone.train_images=96", "standalone.batch_size=32", "standalone.epochs=1",
          "standalone.warmup_epochs=0", "standalone.eval_images=100", "standalone.eval_batch_size=100",
          "standalone.bn_recalib_images=32", "standalone.backend=dygraph"]
# Fields of a GT record that measure the machine, not the run: track1.gt.runner.MEASURED
# (this script runs the tools in subprocesses and imports no track1 itself).
GT_TIMING = {"train_img_per_s", "wall_s", "cpu_s", "finished"}


def tool_env() -> dict:
    """The tools import this checkout's track1 (not whatever an editable install points at)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


# ------------------------------------------------------------------ processes, from /proc
@dataclasses.dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str
    start: int                  # start time in clock ticks: (pid, start) names one process
    cmdline: str


def processes() -> dict:
    """{pid: Proc} of every process on the machine."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        rest = stat.rsplit(")", 1)[1].split()
        out[int(d)] = Proc(int(d), int(rest[1]), int(rest[2]), int(rest[3]), rest[0], int(rest[19]), cmd)
    return out


def descendants(root: int, table: dict | None = None) -> dict:
    """{pid: Proc} of the processes below `root` (not root itself)."""
    table = processes() if table is None else table
    kids = {}
    for p in table.values():
        kids.setdefault(p.ppid, []).append(p)
    out, todo = {}, [root]
    while todo:
        for c in kids.get(todo.pop(), []):
            if c.pid not in out:
                out[c.pid] = c
                todo.append(c.pid)
    return out


def alive(p: Proc, table: dict) -> bool:
    q = table.get(p.pid)
    return q is not None and q.start == p.start and q.state not in ("Z", "X")


def leftovers(sessions, seen: dict, marker: str) -> list:
    """Live processes of a killed run: in one of its `sessions` (each tool is started as a
    session leader, and its workers inherit the session), ever seen in its process tree
    (`seen`: {pid: Proc}), or naming the work folder `marker` on their command line."""
    table = processes()
    mine = {os.getpid(), *_ancestors(table)}
    out = []
    for q in table.values():
        if q.pid in mine or q.state in ("Z", "X"):
            continue
        if q.sid in sessions or q.pgid in sessions or (q.pid in seen and seen[q.pid].start == q.start) \
                or (marker and marker in q.cmdline):
            out.append(q)
    return out


def _ancestors(table):
    pid = os.getpid()
    while pid in table and pid > 1:
        pid = table[pid].ppid
        yield pid


def wait_leftovers(sessions, seen, marker, timeout: float) -> tuple:
    """(processes still alive after `timeout` s, seconds until none was)."""
    t0 = time.monotonic()
    while True:
        left = leftovers(sessions, seen, marker)
        if not left or time.monotonic() - t0 >= timeout:
            return left, time.monotonic() - t0
        time.sleep(0.05)


def reap(procs):
    """Kill what a run left behind (counted already), so it does not spoil the next check."""
    for q in procs:
        try:
            os.kill(q.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def workers_of(pid: int, table: dict | None = None) -> list:
    """The multiprocessing spawn workers (not the resource tracker) below `pid`."""
    return [q for q in descendants(pid, table).values()
            if "spawn_main" in q.cmdline and q.state not in ("Z", "X")]


def locked(lock_file: Path, pids) -> bool:
    """Whether one of `pids` holds a flock on `lock_file` (read from /proc/locks, so that
    looking never takes the lock from the run)."""
    try:
        ino = os.stat(lock_file).st_ino
        with open("/proc/locks") as f:
            lines = f.read().splitlines()
    except OSError:
        return False
    for line in lines:
        parts = line.split()
        if "->" in parts:
            continue
        if len(parts) >= 6 and parts[1] == "FLOCK" and int(parts[4]) in pids and parts[5].endswith(f":{ino}"):
            return True
    return False


# ------------------------------------------------------------------ one attempt of a command
@dataclasses.dataclass
class Attempt:
    rc: int | None
    killed: bool
    seconds: float
    stdout: str
    stderr: str
    left: list                  # processes alive SETTLE_S after a group kill (or after the exit)
    stale_lock: bool = False    # a git index.lock of the checkout that the killed run left


def git_index_lock() -> Path | None:
    """The checkout's .git/index.lock (a worktree's own), or None outside a git checkout."""
    try:
        r = subprocess.run(["git", "rev-parse", "--absolute-git-dir"], cwd=REPO, capture_output=True, text=True)
    except OSError:
        return None
    return Path(r.stdout.strip()) / "index.lock" if r.returncode == 0 and r.stdout.strip() else None


INDEX_LOCK = git_index_lock()


def stale_index_lock(since: float) -> bool:
    """Whether a run started at `since` (time.time()) left the checkout's git index.lock: it
    refuses every later git command there. Removed once no git process runs in the checkout."""
    if INDEX_LOCK is None or not INDEX_LOCK.exists() or INDEX_LOCK.stat().st_mtime < since - 1:
        return False
    if not any(q.cmdline.startswith("git") or "/git " in q.cmdline for q in processes().values()):
        INDEX_LOCK.unlink(missing_ok=True)
    return True


def run_attempt(cmd, logs: Path, marker: str, kill_at: float | None = None, timeout: float = 900.0,
                name: str = "run") -> Attempt:
    """Run `cmd` as a session leader; kill -9 its process group at `kill_at` seconds if it is
    still running then. Afterwards, the processes it left (none expected)."""
    logs.mkdir(parents=True, exist_ok=True)
    n = len(list(logs.glob("*.err")))
    out_p, err_p = logs / f"{n:03d}-{name}.out", logs / f"{n:03d}-{name}.err"
    with open(out_p, "wb") as fo, open(err_p, "wb") as fe:
        p = subprocess.Popen(cmd, cwd=REPO, env=tool_env(), stdout=fo, stderr=fe, start_new_session=True)
    t0, wall0, seen, killed = time.monotonic(), time.time(), {}, False
    limit = timeout if kill_at is None else min(kill_at, timeout)
    while p.poll() is None:
        seen.update(descendants(p.pid))
        if time.monotonic() - t0 >= limit:
            seen.update(descendants(p.pid))
            _killpg(p.pid)
            p.wait()
            killed = kill_at is not None and kill_at <= timeout
            break
        time.sleep(min(POLL_S, max(0.0, limit - (time.monotonic() - t0))))
    seconds = time.monotonic() - t0
    left, _ = wait_leftovers({p.pid}, seen, marker, SETTLE_S if killed else 1.0)
    reap(left)
    rc = None if killed else p.returncode
    return Attempt(rc, killed, seconds, out_p.read_text(errors="replace"), err_p.read_text(errors="replace"), left,
                   stale_index_lock(wall0))


def _killpg(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def error_lines(stderr: str) -> list:
    """The lines a user reads on stderr, as a terminal shows them (each line's text after its
    last carriage return), progress bars aside. A message printed behind a bar that was not
    closed stays glued to it, and so is not a line of its own."""
    lines = []
    for line in stderr.split("\n"):
        seg = line.split("\r")[-1].strip()
        if seg and not _BAR.match(seg):
            lines.append(seg)
    return lines


# tqdm's bar: "desc:  40%|████      | 8/20 [00:01<00:02,  4.1cand/s, loss=2.3]"
_BAR = re.compile(r"^[^|]*\d+%\|[^|]*\| *\d+/\d+ \[[^\]]*\]$")


def one_line_refusal(a: Attempt, needle: str) -> str | None:
    """None if `a` ended as a user error should (exit 2, one line naming `needle`, no
    traceback); else what was wrong."""
    lines = error_lines(a.stderr)
    if a.rc != 2:
        return f"exit {a.rc}, expected 2: {' | '.join(lines[-3:])}"
    if "Traceback" in a.stderr:
        return "a traceback: " + " | ".join(lines[-3:])
    if len(lines) != 1 or not lines[0].startswith("error: ") or needle not in lines[0]:
        return f"expected one line 'error: ...{needle}...', got {lines}"
    return None


# ------------------------------------------------------------------ the three jobs
@dataclasses.dataclass
class Check:
    identical: bool
    duplicates: int = 0
    lost: int = 0
    notes: list = dataclasses.field(default_factory=list)


class Job:
    """One tool under test: its command for an output, what that output must equal, and how
    to count duplicates and losses in it."""
    name = ""
    workers = 0
    lock_name = ""

    def __init__(self, shared: "Shared"):
        self.shared = shared

    def out_path(self, folder: Path) -> Path:
        raise NotImplementedError

    def command(self, out: Path, restart: bool) -> list:
        raise NotImplementedError

    def compare(self, out: Path, ref: Path) -> Check:
        raise NotImplementedError

    def progress(self, out: Path) -> int:
        """Results written so far (to kill while workers compute)."""
        return 0

    def lock_file(self, out: Path) -> Path:
        return Path(str(out) + ".lock")

    def results_file(self, out: Path) -> Path:
        """The file records are appended to."""
        return out

    def writing(self, out: Path) -> bool:
        """Whether a run on `out` has begun to write it (for a tool that takes no lock)."""
        return self.progress(out) > 0


class TrainJob(Job):
    name = "training"

    def out_path(self, folder):
        return folder / "supernet"

    def command(self, out, restart):
        cmd = [PY, str(REPO / "tools" / "train.py"), *_sets(TRAIN_SET + [f"train.out_dir={out}"])]
        return cmd + ["--resume"] if restart else cmd

    def compare(self, out, ref):
        return compare_training(out, ref)

    def lock_file(self, out):
        return out / ".lock"

    def writing(self, out):
        return (out / "vdl").is_dir()


class ScoreJob(Job):
    name = "scoring"
    workers = 2

    def __init__(self, shared, candidates: Path | None = None):
        super().__init__(shared)
        self.candidates = candidates or shared.candidates

    def out_path(self, folder):
        return folder / "submission.json"

    def command(self, out, restart):
        return [PY, str(REPO / "tools" / "predict.py"), "--checkpoint", str(self.shared.supernet),
                "--candidates", str(self.candidates), "--out", str(out), *_sets(SCORE_SET)]

    def compare(self, out, ref):
        return compare_scoring(out, ref, len(json.loads(self.candidates.read_text())))

    def progress(self, out):
        return max(0, _count_lines(partial_file(out)) - 1)

    def results_file(self, out):
        return partial_file(out)

    def lock_file(self, out):
        return Path(str(partial_file(out)) + ".lock")


class GTJob(Job):
    name = "GT build"
    workers = 2

    def out_path(self, folder):
        return folder / "runs.jsonl"

    def command(self, out, restart):
        return [PY, str(REPO / "tools" / "train_standalone.py"), "--codes", str(self.shared.codes),
                "--seeds", "0", "1", "--jobs", "2", "--out", str(out), *_sets(GT_SET)]

    def compare(self, out, ref):
        return compare_gt(out, ref)

    def progress(self, out):
        return _count_lines(out)


def _sets(items):
    return [a for kv in items for a in ("--set", kv)]


def _count_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except OSError:
        return 0


def partial_file(submission: Path) -> Path:
    return submission.with_name(submission.name + ".partial.jsonl")


# ------------------------------------------------------------------ comparing results
def compare_training(out: Path, ref: Path) -> Check:
    """The supernet's arrays bit for bit; its history (epoch ends, timing aside) in the same
    steps: a step twice is a duplicate, a step missing is lost."""
    import numpy as np
    c = Check(True)
    got_npz, ref_npz = out / "supernet.npz", ref / "supernet.npz"
    if not got_npz.is_file():
        return Check(False, lost=1, notes=["no supernet.npz"])
    with np.load(got_npz, allow_pickle=False) as g, np.load(ref_npz, allow_pickle=False) as r:
        if set(g.files) != set(r.files):
            c.identical = False
            c.notes.append(f"tensors differ: {sorted(set(g.files) ^ set(r.files))[:3]}")
        for k in sorted(set(g.files) & set(r.files)):
            if k == "__meta__":
                continue
            a, b = g[k], r[k]
            if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
                c.identical = False
                c.notes.append(f"tensor {k} differs")
                break
        meta_g, meta_r = (json.loads(str(z["__meta__"])) for z in (g, r))
    steps_g = [h["step"] for h in meta_g.get("history", [])]
    steps_r = [h["step"] for h in meta_r.get("history", [])]
    c.duplicates = len(steps_g) - len(set(steps_g))
    c.lost = len(set(steps_r) - set(steps_g))
    strip = lambda hs: [{k: v for k, v in h.items() if k != "time_s"} for h in hs]  # noqa: E731
    if strip(meta_g.get("history", [])) != strip(meta_r.get("history", [])):
        c.identical = False
        c.notes.append(f"history differs (steps {steps_g} vs {steps_r})")
    _note_temporaries(out, c)
    return c


def _note_temporaries(folder: Path, c: Check):
    """Temporary files of atomic writes that a kill left behind (no harm to the result, but
    each is a whole checkpoint or results file of disk space)."""
    temps = [p.name for p in folder.iterdir() if p.name.startswith(".") and p.suffix in (".npz", ".tmp")]
    if temps:
        c.notes.append(f"{len(temps)} temporary file(s) of interrupted writes left: {temps[0]}")


def compare_scoring(out: Path, ref: Path, n: int) -> Check:
    """The submission byte for byte; every candidate index exactly once in the partial file
    (and no index twice in any copy set aside beside it)."""
    c = Check(out.is_file() and out.read_bytes() == ref.read_bytes())
    if not out.is_file():
        c.notes.append("no submission")
    part = partial_file(out)
    idx = [r["i"] for r in _records(part, c) if "i" in r]
    c.duplicates = len(idx) - len(set(idx))
    c.lost = len(set(range(n)) - set(idx))
    for aside in sorted(part.parent.glob(part.name + ".*")):
        if aside.suffix == ".lock":
            continue
        c.notes.append(f"set aside: {aside.name}")
        a_idx = [r["i"] for r in _records(aside, c) if "i" in r]
        c.duplicates += len(a_idx) - len(set(a_idx))
    _note_temporaries(out.parent, c)
    return c


def compare_gt(out: Path, ref: Path) -> Check:
    """The same (code, seed) records, each once, equal to the uninterrupted run's field by
    field apart from timing."""
    c = Check(True)
    got, want = _records(out, c), _records(ref, Check(True))
    keys = [(r["arch"], r["seed"]) for r in got]
    c.duplicates = len(keys) - len(set(keys))
    by_key = {(r["arch"], r["seed"]): r for r in got}
    ref_by_key = {(r["arch"], r["seed"]): r for r in want}
    c.lost = len(set(ref_by_key) - set(by_key))
    extra = set(by_key) - set(ref_by_key)
    if c.lost or extra or c.duplicates:
        c.identical = False
    if extra:
        c.notes.append(f"{len(extra)} records the uninterrupted run does not have")
    for k in sorted(set(by_key) & set(ref_by_key)):
        a = {f: v for f, v in by_key[k].items() if f not in GT_TIMING}
        b = {f: v for f, v in ref_by_key[k].items() if f not in GT_TIMING}
        if a != b:
            c.identical = False
            diff = sorted(f for f in set(a) | set(b) if a.get(f) != b.get(f))
            c.notes.append(f"{k[0][:12]}.. seed {k[1]}: {diff[:4]} differ")
            break
    if out.parent.is_dir():
        _note_temporaries(out.parent, c)
    return c


def _records(path: Path, c: Check) -> list:
    """The JSON lines of a results file, read strictly: a torn or unreadable line is noted
    (and makes the result not identical) instead of being skipped."""
    if not path.is_file():
        return []
    raw = path.read_bytes()
    if raw and not raw.endswith(b"\n"):
        c.identical = False
        c.notes.append(f"{path.name}: torn last line")
    out = []
    for i, line in enumerate(raw.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            c.identical = False
            c.notes.append(f"{path.name} line {i}: unreadable")
            continue
        if isinstance(rec, dict) and not rec.get("header"):
            out.append(rec)
    return out


# ------------------------------------------------------------------ shared inputs
class Shared:
    """The work folder and the inputs every scenario uses: candidates, GT codes, the small
    supernet (trained once, by the training reference run)."""

    def __init__(self, root: Path, n_candidates: int = 60, n_codes: int = 6, n_disk_candidates: int = 120,
                 log=print):
        self.root, self.log = root, log
        self.logs = root / "logs"
        cands, codes, disk = sample_codes([(n_candidates, 1), (n_codes, 2), (n_disk_candidates, 3)])
        self.candidates = self._candidate_file(root / "candidates.json", cands)
        # The disk-full run needs more records than fit in one 4 KiB page of the tmpfs.
        self.disk_candidates = self._candidate_file(root / "candidates_disk.json", disk)
        self.codes = root / "codes.txt"
        self.codes.write_text("\n".join(codes) + "\n")
        self.supernet = root / "trained"
        self.refs = {}

    @staticmethod
    def _candidate_file(path, codes):
        path.write_text(json.dumps({f"arch{i}": {"arch": c} for i, c in enumerate(codes, 1)}))
        return path

    def reference(self, job: Job, key: str | None = None) -> tuple:
        """(output, seconds) of the uninterrupted run of `job` (run once)."""
        key = key or job.name
        if key not in self.refs:
            out = job.out_path(self.root / "ref" / key.replace(" ", "_"))
            out.parent.mkdir(parents=True, exist_ok=True)
            a = run_attempt(job.command(out, False), self.logs, str(self.root), name=f"ref-{key.replace(' ', '_')}")
            if a.rc != 0:
                raise RuntimeError(f"the uninterrupted {key} run failed (exit {a.rc}): {a.stderr[-2000:]}")
            self.log(f"  uninterrupted {key}: {a.seconds:.1f} s")
            self.refs[key] = (out, a.seconds)
        return self.refs[key]


def sample_codes(draws) -> list:
    """For each (n, seed) of `draws`, n distinct codes of the fashion_mnist space
    (`SearchSpace.sample_codes`), drawn by this checkout's track1 in a child process (the
    harness itself never imports track1)."""
    draws = [(int(n), int(seed)) for n, seed in draws]
    script = ("import json, sys; from track1.config import load_config; from track1.profile import Profile; "
              "space = Profile.from_section(load_config('fashion_mnist').profile).space; "
              f"print(json.dumps([space.sample_codes(n, seed=s) for n, s in {draws!r}]))")
    r = subprocess.run([PY, "-c", script], cwd=REPO, env=tool_env(), capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def prepare(shared: Shared):
    """Train the small supernet once (the training reference) and keep a copy for scoring."""
    out, _ = shared.reference(TrainJob(shared))
    if not shared.supernet.exists():
        shutil.copytree(out, shared.supernet, ignore=shutil.ignore_patterns("vdl", ".lock"))


# ------------------------------------------------------------------ scenarios
@dataclasses.dataclass
class Row:
    tool: str
    fault: str
    faults: int = 0
    restarts: int = 0
    identical: bool = True
    duplicates: int = 0
    lost: int = 0
    workers_left: int = 0
    locks_left: int = 0         # git index.lock files the killed runs left in the checkout
    rounds: int = 0
    notes: list = dataclasses.field(default_factory=list)
    skipped: str | None = None

    def after(self, a: Attempt):
        """Count what attempt `a` left behind."""
        self.workers_left += len(a.left)
        self.locks_left += a.stale_lock
        if a.left:
            self.notes.append(f"left: {[q.cmdline[:60] for q in a.left]}")
        if a.stale_lock:
            self.notes.append("a killed run left the checkout's .git/index.lock")

    def add(self, c: Check):
        self.identical &= c.identical
        self.duplicates += c.duplicates
        self.lost += c.lost
        self.notes += c.notes


def kill_restart(job: Job, kills: int, rng: random.Random, log=print) -> Row:
    """kill -9 of the process group at `kills` moments within the uninterrupted run's
    duration, restarting the same command until it completes (see the module doc: rounds)."""
    shared = job.shared
    ref, duration = shared.reference(job)
    draw = lambda: rng.uniform(0.0, 0.95 * duration)  # noqa: E731
    pending = [draw() for _ in range(kills)]
    row = Row(job.name, "kill -9 group")
    redraws, failures = 0, 0
    while pending and failures < 3:
        row.rounds += 1
        out = job.out_path(shared.root / job.name.replace(" ", "_") / f"round{row.rounds}")
        out.parent.mkdir(parents=True, exist_ok=True)
        restart, first = False, True
        while True:
            moment = pending[0] if pending else None
            a = run_attempt(job.command(out, restart), shared.logs, str(shared.root), kill_at=moment,
                            timeout=10 * duration + 120, name=f"{job.name.replace(' ', '_')}-r{row.rounds}")
            row.after(a)
            if a.killed:
                pending.pop(0)
                row.faults += 1
                row.restarts += 1
                restart, first = True, False
                continue
            if a.rc != 0:
                failures += 1
                row.identical = False
                row.notes.append(f"a restart failed (exit {a.rc}): {' | '.join(error_lines(a.stderr)[-2:])}")
                break
            if first and moment is not None and redraws < 5 * kills:
                pending[0] = draw()         # later than a whole fresh run: this moment kills nothing
                redraws += 1
            c = job.compare(out, ref)
            row.add(c)
            log(f"  {job.name} round {row.rounds}: {row.faults} kills so far, identical {c.identical}"
                f"{', ' + '; '.join(c.notes) if c.notes else ''}")
            break
    return row


def parent_kill(job: Job, when: str, log=print) -> Row:
    """kill -9 of the parent alone, `when` its workers start ("starting") or compute
    ("working"); every worker must be gone within WORKER_GRACE_S. Then the same command
    completes the run, which must equal the uninterrupted one."""
    shared = job.shared
    ref, duration = shared.reference(job)
    row = Row(job.name, f"kill -9 parent ({when})")
    out = job.out_path(shared.root / job.name.replace(" ", "_") / f"parent-{when}")
    out.parent.mkdir(parents=True, exist_ok=True)
    logs = shared.logs
    n = len(list(logs.glob("*.err")))
    with open(logs / f"{n:03d}-parent-{when}.err", "wb") as fe:
        p = subprocess.Popen(job.command(out, False), cwd=REPO, env=tool_env(), stdout=subprocess.DEVNULL,
                             stderr=fe, start_new_session=True)
    seen, t0, wall0 = {}, time.monotonic(), time.time()
    try:
        while p.poll() is None and time.monotonic() - t0 < 10 * duration + 120:
            table = processes()
            seen.update(descendants(p.pid, table))
            ready = len(workers_of(p.pid, table)) >= job.workers
            if ready and (when == "starting" or job.progress(out) > 0):
                break
            time.sleep(0.05)
        if when == "starting":
            time.sleep(STARTING_S)      # the workers now import Paddle and build their task
        if p.poll() is not None:
            row.skipped = f"the run ended (exit {p.returncode}) before its workers were {when}"
            return row
        seen.update(descendants(p.pid))
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        row.faults = 1
        row.locks_left += stale_index_lock(wall0)
        workers = {q.pid: q for q in seen.values()}
        left, gone_s = wait_leftovers(set(), workers, "", WORKER_GRACE_S)
        row.workers_left = len(left)
        if left:
            more, later = wait_leftovers(set(), workers, "", 60.0)
            row.notes.append(f"{len(left)} process(es) alive {WORKER_GRACE_S:.0f} s after the parent's death"
                             + (f" (gone after {WORKER_GRACE_S + later:.1f} s)" if not more else " (still alive at 65 s)"))
            reap(more)
        else:
            row.notes.append(f"workers gone {gone_s:.1f} s after the parent")
    finally:
        _killpg(p.pid)
    a = run_attempt(job.command(out, True), logs, str(shared.root), timeout=10 * duration + 120,
                    name=f"{job.name.replace(' ', '_')}-after-parent")
    row.restarts = 1
    row.after(a)
    if a.rc != 0:
        row.identical = False
        row.notes.append(f"the rerun failed (exit {a.rc}): {' | '.join(error_lines(a.stderr)[-2:])}")
    else:
        row.add(job.compare(out, ref))
        row.rounds = 1
    log(f"  {job.name} parent kill ({when}): workers left {row.workers_left}, identical {row.identical}")
    return row


def two_runs(job: Job, log=print) -> Row:
    """A second run of the same command on the same output while the first holds it: refused
    with one line, exit 2; the first still ends with the uninterrupted result."""
    shared = job.shared
    ref, duration = shared.reference(job)
    row = Row(job.name, "two runs, one output")
    out = job.out_path(shared.root / job.name.replace(" ", "_") / "two-runs")
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = job.command(out, True)
    logs = shared.logs
    n = len(list(logs.glob("*.err")))
    with open(logs / f"{n:03d}-first.out", "wb") as fo, open(logs / f"{n:03d}-first.err", "wb") as fe:
        first = subprocess.Popen(cmd, cwd=REPO, env=tool_env(), stdout=fo, stderr=fe, start_new_session=True)
    try:
        t0 = time.monotonic()
        while first.poll() is None and time.monotonic() - t0 < 10 * duration + 120:
            if locked(job.lock_file(out), {first.pid, *descendants(first.pid)}):
                break
            if job.writing(out):        # no lock seen, but the first run writes: start the second anyway
                row.notes.append(f"the first run writes {out.name} without holding {job.lock_file(out).name}")
                break
            time.sleep(0.05)
        if first.poll() is not None:
            row.identical = False
            row.notes.append(f"the first run ended (exit {first.returncode}) before it held the output's lock "
                             f"{job.lock_file(out).name}")
            return row
        # The first is held still (SIGSTOP of its group) while the second tries: a refusal
        # must come from the lock, not from the first having finished in the meantime (a
        # tiny training run ends before a second process has imported Paddle).
        os.killpg(first.pid, signal.SIGSTOP)
        try:
            second = run_attempt(cmd, logs, "", timeout=10 * duration + 120, name=f"{job.name.replace(' ', '_')}-second")
        finally:
            os.killpg(first.pid, signal.SIGCONT)
        row.faults = 1
        why = one_line_refusal(second, "in use by another run")
        if why:
            row.identical = False
            row.notes.append(f"the second run was not refused: {why}")
        else:
            row.notes.append(f"second refused in {second.seconds:.1f} s: "
                             f"{error_lines(second.stderr)[0].replace(str(shared.root), '…')}")
        first.wait(timeout=10 * duration + 120)
    finally:
        _killpg(first.pid)
    if first.returncode != 0:
        row.identical = False
        row.notes.append(f"the first run failed (exit {first.returncode})")
    else:
        row.add(job.compare(out, ref))
        row.rounds = 1
    log(f"  {job.name} two runs: identical {row.identical}; {row.notes[-1] if row.notes else ''}")
    return row


# ------------------------------------------------------------------ a full disk
class Tmpfs:
    """A small tmpfs mounted in `where` (root only), filled up to `free_pages` free pages."""

    def __init__(self, where: Path, size_kib: int = 256):
        self.where, self.size_kib, self.mounted = where, size_kib, False

    def mount(self) -> str | None:
        """None once mounted, else why not."""
        if os.geteuid() != 0:
            return "needs root to mount a tmpfs"
        if not shutil.which("mount"):
            return "no mount command"
        self.where.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size_kib}k,mode=0755", "tmpfs",
                            str(self.where)], capture_output=True, text=True)
        if r.returncode != 0:
            return f"mount -t tmpfs refused: {r.stderr.strip() or r.returncode}"
        self.mounted = True
        return None

    def fill(self, free_pages: int):
        st = os.statvfs(self.where)
        spare = st.f_bavail - free_pages
        if spare > 0:
            with open(self.where / "filler", "ab") as f:
                f.write(b"\0" * spare * st.f_frsize)
        st = os.statvfs(self.where)
        if st.f_bavail != free_pages:
            raise RuntimeError(f"tmpfs: {st.f_bavail} pages free, wanted {free_pages}")

    def free(self):
        (self.where / "filler").unlink(missing_ok=True)

    def unmount(self):
        if self.mounted:
            subprocess.run(["umount", str(self.where)], capture_output=True)
            self.mounted = False


def disk_full(job: Job, log=print) -> Row:
    """The output on a tmpfs with one free page left: appends fill it and one fails. The run
    must fail with one line, exit 2, leave no torn record and no worker; a rerun after space is
    freed must resume (keeping what was written) to the uninterrupted result."""
    shared = job.shared
    key = job.name if not isinstance(job, ScoreJob) or job.candidates == shared.candidates else f"{job.name} (disk)"
    row = Row(job.name, "disk full (tmpfs)")
    fs = Tmpfs(shared.root / "disk" / job.name.replace(" ", "_"))
    why = fs.mount()
    if why:
        row.skipped = why
        log(f"  {job.name} disk full: skipped ({why})")
        return row
    try:
        ref, duration = shared.reference(job, key)
        out = job.out_path(fs.where)
        written = job.results_file(ref).stat().st_size
        pages = -(-written // os.statvfs(fs.where).f_frsize)
        if pages < 2:
            row.skipped = f"its results ({written} bytes) fit in one page: no append would find the disk full"
            return row
        fs.fill(free_pages=pages // 2)      # the disk fills up about halfway through the run
        a = run_attempt(job.command(out, False), shared.logs, str(shared.root), timeout=10 * duration + 120,
                        name=f"{job.name.replace(' ', '_')}-disk-full")
        row.faults = 1
        row.after(a)
        if a.rc == 0:
            row.identical = False
            row.notes.append("the run did not hit the full disk (it fits in one page)")
            return row
        why = one_line_refusal(a, "No space left on device")
        if why:
            row.identical = False
            row.notes.append(f"the failing run: {why}")
        else:
            row.notes.append(error_lines(a.stderr)[0].replace(str(shared.root), "…"))
        kept = job.progress(out)
        torn = Check(True)
        _records(job.results_file(out), torn)
        if not torn.identical:
            row.identical = False
            row.notes += ["after the failure: " + n for n in torn.notes]
        fs.free()
        b = run_attempt(job.command(out, True), shared.logs, str(shared.root), timeout=10 * duration + 120,
                        name=f"{job.name.replace(' ', '_')}-disk-freed")
        row.restarts = 1
        row.after(b)
        if b.rc != 0:
            row.identical = False
            row.notes.append(f"the rerun failed (exit {b.rc}): {' | '.join(error_lines(b.stderr)[-2:])}")
        else:
            row.add(job.compare(out, ref))
            row.rounds = 1
            row.notes.append(f"{kept} records kept through the failure, the rest scored by the rerun")
    finally:
        fs.unmount()
    log(f"  {job.name} disk full: identical {row.identical}; {'; '.join(row.notes)}")
    return row


# ------------------------------------------------------------------ the whole suite
def run_suite(root: Path, kills: int, seed: int, log=print, parent_kills=("starting", "working"),
              locks=("training", "scoring", "GT build"), disk=("scoring", "GT build"),
              tools=("training", "scoring", "GT build")) -> list:
    rng = random.Random(seed)
    shared = Shared(root, log=log)
    log("references (uninterrupted runs):")
    prepare(shared)
    jobs = {"training": TrainJob(shared), "scoring": ScoreJob(shared), "GT build": GTJob(shared)}
    rows = []
    for name in tools:
        log(f"{name}: {kills} kills")
        rows.append(kill_restart(jobs[name], kills, rng, log))
    for name in ("scoring", "GT build"):
        for when in parent_kills:
            rows.append(parent_kill(jobs[name], when, log))
    for name in locks:
        rows.append(two_runs(jobs[name], log))
    for name in disk:
        job = ScoreJob(shared, shared.disk_candidates) if name == "scoring" else jobs[name]
        rows.append(disk_full(job, log))
    return rows


COLUMNS = ("tool", "fault", "faults injected", "restarts", "results identical", "duplicates", "lost", "workers left",
           "locks left")


def table(rows) -> str:
    body = [[r.tool, r.fault, str(r.faults), str(r.restarts),
             "skipped" if r.skipped else ("yes" if r.identical else "no"), str(r.duplicates), str(r.lost),
             str(r.workers_left), str(r.locks_left)] for r in rows]
    widths = [max(len(c), *(len(b[i]) for b in body)) for i, c in enumerate(COLUMNS)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    out = [line(COLUMNS), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(b) for b in body]
    notes = [f"- {r.tool}, {r.fault}: " + ("skipped: " + r.skipped if r.skipped else "; ".join(r.notes))
             for r in rows if r.skipped or r.notes]
    return "\n".join(out + ([""] + notes if notes else []))


def passed(rows) -> bool:
    return all(r.skipped or (r.identical and not r.duplicates and not r.lost and not r.workers_left
                             and not r.locks_left) for r in rows)


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), "?")
    except OSError:
        return "?"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kills", type=int, default=20, help="kill -9 moments per tool (default 20)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="write the table and details as JSON here")
    p.add_argument("--keep", action="store_true", help="keep the work folder (logs of every attempt)")
    args = p.parse_args(argv)
    if args.kills < 0:
        p.error("--kills must be >= 0")
    root = Path(tempfile.mkdtemp(prefix="track1-faults-"))
    t0 = time.time()
    try:
        rows = run_suite(root, args.kills, args.seed)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"work folder kept: {root}")
    wall = time.time() - t0
    print()
    print(table(rows))
    print(f"\n{'all checks passed' if passed(rows) else 'FAILED'}; wall time {wall / 60:.1f} min; "
          f"CPU {cpu_model()}")
    if args.out:
        doc = {"command": " ".join([os.path.relpath(sys.argv[0], REPO) if sys.argv[0] else "faults.py"]
                                   + (argv if argv is not None else sys.argv[1:])),
               "kills": args.kills, "seed": args.seed, "wall_s": round(wall, 1), "cpu": cpu_model(),
               "date": time.strftime("%Y-%m-%d"), "passed": passed(rows), "columns": list(COLUMNS),
               "rows": [dataclasses.asdict(r) for r in rows]}
        Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    return 0 if passed(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
