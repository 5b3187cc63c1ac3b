"""Reliability: user errors are one line, writes are complete or absent, damaged results files
do not block reruns, outputs are checked before work, Paddle stays quiet, and every file of
the malformed-input corpus (tests/data/bad_inputs/) is refused by its tool with exit 2."""
import errno
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from track1 import io_utils
from track1.errors import InputError, OutputError, UserError, one_line, quote
from track1.io_utils import (FileLock, append_lines, atomic_write_text, check_output_path, read_json_file,
                             read_jsonl)

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "data" / "bad_inputs"


# ------------------------------------------------------------------ one base class
def test_every_user_error_class_is_a_user_error_and_keeps_its_old_base():
    from track1.candidates import CandidateError
    from track1.config import ConfigError
    from track1.data import DataError
    from track1.io_utils import LockError
    from track1.parallel import WorkerError, WorkerStartError
    from track1.space import CodeError
    for cls, old in [(CandidateError, ValueError), (ConfigError, ValueError), (DataError, RuntimeError),
                     (CodeError, ValueError), (WorkerError, RuntimeError), (WorkerStartError, RuntimeError),
                     (InputError, ValueError), (OutputError, OSError), (LockError, RuntimeError)]:
        assert issubclass(cls, UserError) and issubclass(cls, old), cls


def test_messages_show_stray_characters():
    assert quote("abc") == "'abc'"
    assert quote("abc\n") == repr("abc\n") and "\n" not in quote("abc\n")
    assert "\r" not in quote("x\ry")
    assert quote("9" * 5000).endswith("... (5000 characters)") and len(quote("9" * 5000)) < 250
    assert one_line("a\nb\rc\x1b") == "a\\nb\\rc\\x1b"


def test_code_error_shows_a_trailing_newline_with_repr(fm_profile):
    from track1.space import CodeError
    code = fm_profile.space.max_code() + "\n"
    with pytest.raises(CodeError) as e:
        fm_profile.space.parse(code)
    assert repr(code) in str(e.value) and "\n" not in str(e.value)


# ------------------------------------------------------------------ complete appends
def test_append_survives_short_writes(tmp_path, monkeypatch):
    real = os.write
    monkeypatch.setattr(io_utils.os, "write", lambda fd, data: real(fd, bytes(data[:3])))
    p = tmp_path / "r.jsonl"
    append_lines(p, ['{"a": 1}', '{"b": 22}'])
    assert p.read_text() == '{"a": 1}\n{"b": 22}\n'


def test_append_on_a_full_disk_raises_and_leaves_no_torn_record(tmp_path, monkeypatch):
    p = tmp_path / "r.jsonl"
    append_lines(p, ['{"a": 1}'])
    real, calls = os.write, []

    def fill_up(fd, data):          # the disk takes 5 bytes, then is full
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, bytes(data[:5]))

    monkeypatch.setattr(io_utils.os, "write", fill_up)
    with pytest.raises(OSError) as e:
        append_lines(p, ['{"b": 2}', '{"c": 3}'])
    assert isinstance(e.value, UserError) and "No space left" in str(e.value) and str(p) in str(e.value)
    assert p.read_text() == '{"a": 1}\n'            # the 5 bytes are cut off again


# ------------------------------------------------------------------ damaged results files
def test_garbled_middle_line_is_moved_aside_and_the_rest_kept(tmp_path):
    p = tmp_path / "r.jsonl"
    good = b'{"i": 1}\n{"i": 2}\n'
    p.write_bytes(b'{"i": 1}\n{"i": \x00\xff garbage\n[1, 2]\n{"i": 2}\n{"i": 3, "tor')
    with pytest.raises(InputError, match="line 2: not a JSON object"):
        read_jsonl(p)                                   # a plain read still refuses
    said = []
    assert read_jsonl(p, repair=True, log=said.append) == [{"i": 1}, {"i": 2}]
    assert p.read_bytes() == good                       # readable lines kept byte for byte
    aside = tmp_path / "r.jsonl.corrupt-1"
    assert aside.read_bytes().startswith(b'{"i": 1}\n{"i": \x00')
    assert len(said) == 1 and "2 unreadable lines (first: line 2)" in said[0] and aside.name in said[0]
    assert read_jsonl(p, repair=True, log=said.append) == [{"i": 1}, {"i": 2}] and len(said) == 1
    p.write_bytes(good + b"}{\n")                       # a second fault keeps the first copy
    read_jsonl(p, repair=True, log=said.append)
    assert (tmp_path / "r.jsonl.corrupt-2").exists() and aside.exists()


def test_torn_last_line_is_said(tmp_path, capsys):
    p = tmp_path / "r.jsonl"
    p.write_text('{"i": 1}\n{"i": 2')
    said = []
    assert read_jsonl(p, log=said.append) == [{"i": 1}] and "skipped a torn last line" in said[0]
    assert read_jsonl(p) == [{"i": 1}] and capsys.readouterr().err == ""    # silent unless asked
    read_jsonl(p, repair=True)
    assert p.read_text() == '{"i": 1}\n' and "cut a torn last line" in capsys.readouterr().err


def test_results_file_that_is_a_directory(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        read_jsonl(tmp_path, repair=True)


# ------------------------------------------------------------------ atomic writes
def test_atomic_write_mode_follows_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "new.json", "{}\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.json").st_mode) == 0o640
    kept = tmp_path / "kept.json"
    kept.write_text("old")
    os.chmod(kept, 0o604)                               # a replaced file keeps its own mode
    atomic_write_text(kept, "new")
    assert kept.read_text() == "new" and stat.S_IMODE(os.stat(kept).st_mode) == 0o604


def test_atomic_write_refuses_non_files_and_writes_through_links(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        atomic_write_text(tmp_path / "d", "x")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OutputError, match="is a named pipe"):
        atomic_write_text(tmp_path / "fifo", "x")
    assert stat.S_ISFIFO(os.stat(tmp_path / "fifo").st_mode)
    target = tmp_path / "real.json"
    target.write_text("old")
    (tmp_path / "link.json").symlink_to(target)
    atomic_write_text(tmp_path / "link.json", "new")
    assert (tmp_path / "link.json").is_symlink() and target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "fifo", "link.json", "real.json"]


def test_check_output_path(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("")
    with pytest.raises(OutputError, match=r"^--out '.*d' is a directory"):
        check_output_path(tmp_path / "d", "--out")
    with pytest.raises(OutputError, match="is a named pipe"):
        os.mkfifo(tmp_path / "p")
        check_output_path(tmp_path / "p", "--out")
    with pytest.raises(OutputError, match="is a regular file, not a folder"):
        check_output_path(tmp_path / "f" / "sub" / "out.json", "--out")
    (tmp_path / "l").symlink_to(tmp_path / "f")
    assert check_output_path(tmp_path / "l") == tmp_path / "f"
    assert check_output_path(tmp_path / "new" / "deeper" / "out.json") == tmp_path / "new" / "deeper" / "out.json"
    assert not (tmp_path / "new").exists()              # a check creates nothing


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_check_output_path_not_writable(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o500)
    try:
        with pytest.raises(OutputError, match="is not writable"):
            check_output_path(ro / "out.json", "--out")
    finally:
        os.chmod(ro, 0o700)


def test_lock_message_names_the_output(tmp_path):
    out = tmp_path / "out.jsonl"
    with FileLock(out):
        with pytest.raises(UserError) as e:
            with FileLock(out):
                pass
    assert str(e.value) == f"'{out}' is in use by another run"


TINY_TRAIN = ["train.train_images=64", "train.batch_size=32", "train.epochs=1", "train.warmup_epochs=0",
              "train.eval_images=0", "train.engine=dygraph", "train.gt=null", "train.strategy=spos"]


def test_a_second_training_run_on_one_out_dir_is_refused(tmp_path):
    # Found by benchmarks/faults.py: two `train.py --resume` on one train.out_dir both trained,
    # each writing its own checkpoints over the other's. The out_dir is locked while a run writes.
    from conftest import train_run
    from track1.config import load_config
    from track1.io_utils import LockError
    from track1.train.loop import LOCK_FILE
    d = tmp_path / "run"
    cfg = load_config(None, TINY_TRAIN + [f"train.out_dir={d}"])
    with FileLock(d, lock_file=d / LOCK_FILE):      # what the first run holds
        with pytest.raises(LockError) as e:
            train_run(cfg, resume=True, log=lambda m: None)
    assert str(e.value) == f"train.out_dir '{d}' is in use by another run"
    assert sorted(p.name for p in d.iterdir()) == [LOCK_FILE]         # nothing written
    train_run(cfg, resume=True, log=lambda m: None)                   # free again: it trains
    assert (d / "supernet.npz").is_file()


def test_an_error_during_training_starts_on_a_line_of_its_own(tmp_path, capsys, monkeypatch):
    # Found by benchmarks/faults.py: a run that failed left its progress bar open, so the
    # one-line error was printed behind the bar's last redraw, and the bar redrawn after it.
    from conftest import train_run
    from track1.config import load_config
    from track1.train import engines
    monkeypatch.setattr(engines.DygraphEngine, "step", lambda self, plan, x, y: {"loss": float("nan")})
    cfg = load_config(None, TINY_TRAIN + [f"train.out_dir={tmp_path / 'run'}"])
    try:
        train_run(cfg, log=lambda m: None)
    except FloatingPointError:
        err = capsys.readouterr().err       # as the tool's error handler sees it: the run's frames still alive
    else:
        raise AssertionError("the NaN loss was not refused")
    assert err.endswith("\n") and "\r" not in err.rsplit("\n", 1)[1], repr(err)


# ------------------------------------------------------------------ JSON input files
@pytest.mark.parametrize("content,msg", [
    ("[" * 5000 + "]" * 5000, "nested too deeply"),
    ('{"a": %s}' % ("9" * 5000), "a number too long to read"),
    ('[{"a": 1}]', "expected a JSON object of entries, got an array"),
    ('{"a": 1}', "entry 'a': expected an object, got a number"),
    ('{"a": {}, "a": {}}', "duplicate key 'a'"),
    (b"\x89PNG\r\n\x1a\n\x00\xff", "not UTF-8 text"),
    ("", "the file is empty"),
    ('{"a": {', "malformed JSON (line 1 column 8"),
])
def test_read_json_file_one_line_naming_the_file(tmp_path, content, msg):
    p = tmp_path / "in.json"
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(InputError) as e:
        read_json_file(p, "GT file", entries=dict)
    text = str(e.value)
    assert text.startswith(f"GT file '{p}'") and msg in text and "\n" not in text and len(text) < 300


def test_read_text_file(tmp_path):
    from track1.io_utils import read_text_file
    (tmp_path / "codes.txt").write_bytes(b"\x00\xff\xfe")
    with pytest.raises(InputError, match=r"^code file '.*codes.txt': not UTF-8 text"):
        read_text_file(tmp_path / "codes.txt", "code file")
    with pytest.raises(InputError, match="is a directory"):
        read_text_file(tmp_path, "code file")


def test_read_json_file_not_a_file(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        read_json_file(tmp_path, "GT file")
    with pytest.raises(InputError, match="no such file"):
        read_json_file(tmp_path / "absent.json", "GT file")


# ------------------------------------------------------------------ Paddle's noise
QUIET_SCRIPT = """
import sys, time
sys.path.insert(0, %r)
import track1
import numpy as np, paddle
paddle.enable_static()
paddle.set_flags({"FLAGS_use_mkldnn": True})
main, start = paddle.static.Program(), paddle.static.Program()
with paddle.static.program_guard(main, start):
    x = paddle.static.data("x", [4, 3, 8, 8], "float32")
    loss = (paddle.nn.Conv2D(3, 4, 3)(x) ** 2).sum()
    paddle.optimizer.SGD(0.1).minimize(loss)
exe = paddle.static.Executor(paddle.CPUPlace())
exe.run(start)
exe.run(main, feed={"x": np.ones((4, 3, 8, 8), "float32")}, fetch_list=[loss])
print("up", flush=True)
time.sleep(120)
""" % str(REPO)


def test_paddle_is_quiet_and_sigterm_ends_without_a_dump():
    # Without track1.quiet: glog INFO/WARNING lines and Python warnings while a static oneDNN
    # program runs, and a "C++ Traceback ... FatalError" dump when the process gets a plain kill.
    env = dict(os.environ)
    env.pop("GLOG_minloglevel", None)
    p = subprocess.Popen([sys.executable, "-c", QUIET_SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    assert p.stdout.readline().strip() == "up"
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == -signal.SIGTERM
    assert err == "", err


# ------------------------------------------------------------------ the malformed-input corpus
REFERENCE = CORPUS / "reference"
JSON_CASES = sorted((CORPUS / "json").glob("*.json"))
YAML_CASES = sorted((CORPUS / "yaml").glob("*.yaml"))
# A code of the fashion_mnist profile (the configs' base) for the tool that reads a config.
CODE = "1523213131211111212100000023134300000000001616000000"


def _tool(*args):
    env = dict(os.environ)
    env.pop("GLOG_minloglevel", None)           # the tools must be quiet by themselves
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, cwd=REPO, env=env)


def _assert_refused(r, out: Path, name: str):
    lines = r.stderr.splitlines()
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr[-2000:]
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert name in lines[0] or "config key" in lines[0], lines[0]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(out.name)], "an output was written"


def test_corpus_is_complete():
    names = {p.stem for p in JSON_CASES} | {p.stem for p in YAML_CASES}
    assert {"deep_nesting", "huge_int", "top_level_list", "object_of_numbers", "duplicate_key",
            "code_trailing_newline", "code_image_size_2", "binary", "syntax_error", "unknown_key",
            "train_epochs_0", "standalone_epochs_0"} <= names


@pytest.mark.parametrize("case", JSON_CASES, ids=lambda p: p.name)
def test_bad_json_input_is_refused_in_one_line(tmp_path, case):
    # as a submission (a GT file goes through the same reader, read_official)
    out = tmp_path / "plot.png"
    r = _tool("tools/check.py", str(case), "--gt", str(REFERENCE / "gt.json"), "--boot", "0", "--plot", str(out))
    _assert_refused(r, out, case.name)


@pytest.mark.parametrize("case", YAML_CASES, ids=lambda p: p.name)
def test_bad_config_is_refused_in_one_line(tmp_path, case):
    out = tmp_path / "runs.jsonl"
    r = _tool("tools/train_standalone.py", "--config", str(case), "--codes", CODE, "--out", str(out))
    _assert_refused(r, out, case.name)


def test_reference_inputs_are_accepted(tmp_path):
    # the corpus' reference files are sound: each refusal above is about its own file
    r = _tool("tools/check.py", str(REFERENCE / "submission.json"), "--gt", str(REFERENCE / "gt.json"),
              "--boot", "0", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["n"] == 4, r.stderr


def test_an_error_during_scoring_starts_on_a_line_of_its_own(tmp_path, capsys, monkeypatch):
    # The same for scoring (benchmarks/faults.py, disk full: the append's one-line error came
    # behind the bar, and the bar was redrawn after it).
    import contextlib
    from types import SimpleNamespace
    from track1.scoring import run
    from track1.scoring.engine import EnginePlan
    from track1.scoring.trained import ScoreError

    class Pool:
        def imap_unordered(self, fn, tasks):
            for idx, codes in tasks:
                yield idx, [0.5] * (len(idx) - 1) + [float("nan")]
    monkeypatch.setattr(run, "worker_pool", lambda *a, **k: contextlib.nullcontext(Pool()))
    cands = [SimpleNamespace(key=f"arch{i}", arch="x", code="x") for i in range(4)]
    cfg = {"score": {"chunk": 2}, "data": {}}
    try:
        plan = EnginePlan("static", "cpu", None, 1)
        run._score_todo(None, cfg, cands, [0, 1, 2, 3], tmp_path / "p.jsonl", {}, plan, log=lambda m: None)
    except ScoreError:
        err = capsys.readouterr().err
    else:
        raise AssertionError("the non-finite score was not refused")
    assert err.endswith("\n") and "\r" not in err.rsplit("\n", 1)[1], repr(err)


def test_code_version_takes_no_git_lock(tmp_path, monkeypatch):
    # Found by benchmarks/faults.py: every tool records code_version(), whose `git status`
    # rewrote the index under .git/index.lock; a tool killed during it (kill -9 of its group)
    # left the lock, and every later git command in the checkout was refused.
    import shutil
    from track1 import version
    if not shutil.which("git"):
        pytest.skip("no git")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    git = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, env=env, check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    (tmp_path / "f.txt").write_text("x\n")
    git("add", "f.txt")
    git("commit", "-qm", "c")
    st = os.stat(tmp_path / "f.txt")
    os.utime(tmp_path / "f.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))   # stale stat data: status would refresh
    index = tmp_path / ".git" / "index"
    before = (index.stat().st_ino, index.stat().st_mtime_ns)
    monkeypatch.setattr(version, "REPO", tmp_path)
    assert version.code_version.__wrapped__().endswith("+" + git("rev-parse", "--short=10", "HEAD").stdout.decode().strip())
    assert (index.stat().st_ino, index.stat().st_mtime_ns) == before      # the index was not rewritten


def test_a_tool_piped_into_head_ends_quietly(fm_profile):
    """`tool | head`: the reader closes the pipe early; the tool stops without a traceback
    and with SIGPIPE's status, as a Unix tool does."""
    codes = fm_profile.space.sample_codes(300, seed=1)          # ~100 KB of output: more than a pipe holds
    p = subprocess.Popen([sys.executable, str(Path(__file__).resolve().parents[1] / "tools" / "arch.py"), *codes],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 141 and first.startswith(codes[0].encode())
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_a_reader_gone_before_the_last_flush_is_quiet_too(tmp_path):
    """Short output still in the buffer at exit (stdout buffered, as outside this sandbox),
    the reader already gone: no 'Exception ignored' line, SIGPIPE's status."""
    import textwrap
    script = tmp_path / "tool.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        from track1.cli.common import run_main
        def main():
            sys.stdin.readline()            # wait until the reader has gone
            print("one short line")
        run_main(main)
        """))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    r, w = os.pipe()
    p = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=w, stderr=subprocess.PIPE, env=env)
    os.close(w)
    os.close(r)                                   # the reader goes before the tool writes
    _, err = p.communicate(b"go\n", timeout=60)
    assert p.returncode == 141 and b"Exception ignored" not in err and b"Traceback" not in err, err


def test_a_broken_pipe_that_is_not_stdout_keeps_its_traceback(tmp_path):
    import textwrap
    script = tmp_path / "tool.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        from track1.cli.common import run_main
        def main():
            raise BrokenPipeError(32, "a worker's pipe")
        run_main(main)
        """))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "Traceback" in r.stderr and "a worker's pipe" in r.stderr
