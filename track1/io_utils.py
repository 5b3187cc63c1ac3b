"""File access that survives kills and full disks, and reads user files into one-line errors.

Whole files are replaced atomically (temporary file, fsync, rename); JSONL records are
appended completely or not at all; readers refuse what is not the file they expect with an
`InputError` naming the file, and a results file damaged in the middle is set aside rather
than blocking every rerun.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
import sys
import tempfile
from pathlib import Path

from .errors import InputError, OutputError, UserError, describe, not_a_file, quote


# ------------------------------------------------------------------ writing whole files
def check_output_path(path, what: str = "output") -> Path:
    """The file a write to `path` will replace, checked before any work is done: refuses a
    directory, a device or other non-regular file, a read-only file and a location where the
    file cannot be created. A symbolic link is followed (the write goes to its target)."""
    target = _write_target(path, what)
    if target.exists():
        if not os.access(target, os.W_OK):
            raise OutputError(f"{what} {quote(path)} is read-only")
        parent = target.parent
    else:
        parent = _nearest_existing(target.parent)
        if not parent.is_dir():
            raise OutputError(f"{what} {quote(path)}: {quote(parent)} {describe(parent)}, not a folder")
    # The atomic rename creates a temporary file next to the target: its folder must be writable.
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {quote(path)}: folder {quote(parent)} is not writable")
    return target


def check_output_dir(path, what: str = "output folder") -> Path:
    """A folder files will be written into, checked before any work is done: it is a folder
    (or can be created as one) and writable."""
    if not str(path).strip():
        raise OutputError(f"{what}: empty path")
    target = Path(os.path.abspath(path))
    existing = _nearest_existing(target)
    if not existing.is_dir():
        raise OutputError(f"{what} {quote(path)}: {quote(existing)} {describe(existing)}, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {quote(path)}: folder {quote(existing)} is not writable")
    return target


def atomic_write_bytes(path, data: bytes):
    """Write to a temporary file in the target's folder, fsync, then rename over the target.
    A symbolic link stays a link (its target is replaced); a directory or device is refused."""
    target = _write_target(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as e:
        raise OutputError(f"cannot write {quote(path)}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            # mkstemp makes the file 0600; the result must look like any file the user writes.
            os.fchmod(f.fileno(), _mode_for(target))
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, UserError):
            raise OutputError(f"cannot write {quote(path)}: {e.strerror or e}") from None
        raise


def atomic_write_text(path, text: str):
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path, obj, indent=None):
    atomic_write_text(path, json.dumps(obj, indent=indent) + "\n")


def _write_target(path, what: str = "output") -> Path:
    """The regular file that writing `path` replaces: a symlink's target, never a non-file."""
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    if target.exists() and not target.is_file():
        raise OutputError(f"{what} {quote(path)} {describe(path)}; expected a file path")
    return target


def _mode_for(target: Path) -> int:
    """An existing file keeps its mode; a new one gets what open() would give it."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    # The umask can only be read by setting it; it is set straight back.
    old = os.umask(0o077)
    os.umask(old)
    return old


def _nearest_existing(p: Path) -> Path:
    p = Path(os.path.abspath(p))
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    return p


# ------------------------------------------------------------------ appending records
def append_line(path, line: str):
    """Append one line: after a kill it is whole or absent."""
    append_lines(path, [line])


def append_lines(path, lines):
    """Append lines and fsync. Every byte is written or none is: on an error (a full disk,
    an interrupt) the file is cut back to its length before the call, so a chunk is never
    counted as done while its records are torn, and no torn line is left for the next
    append to land behind (one writer per file: callers hold a FileLock)."""
    if any("\n" in line for line in lines):
        raise ValueError("a JSONL record must not contain a newline")
    if not lines:
        return
    data = "".join(line + "\n" for line in lines).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError as e:
        raise OutputError(f"cannot append to {quote(path)}: {e.strerror}") from None
    try:
        start = os.fstat(fd).st_size
        try:
            _write_all(fd, data)
            os.fsync(fd)
        except BaseException as e:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            if isinstance(e, OSError):
                raise OutputError(f"cannot append to {quote(path)}: {e.strerror or e} "
                                  "(the records of this step were not kept)") from None
            raise
    finally:
        os.close(fd)


def _write_all(fd, data: bytes):
    # os.write may write less than asked (a disk filling up, a signal): go on from there.
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[n:]


# ------------------------------------------------------------------ reading user files
def require_file(path, what: str) -> Path:
    """`path` as a Path if it is a regular file; else an InputError saying what it is (a
    directory, a device; a named pipe would block a read forever)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(not_a_file(what, path))
    return path


def read_bytes(path, what: str) -> bytes:
    path = require_file(path, what)
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputError(f"{what} {quote(path)} cannot be read ({e.strerror})") from None


def read_text_file(path, what: str) -> str:
    """The UTF-8 text of a user's file, or an InputError naming it (a binary file, a directory)."""
    raw = read_bytes(path, what)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{what} {quote(path)}: not UTF-8 text (byte {e.start}; a binary file?)") from None


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


def loads_json(text, error=ValueError):
    """json.loads with duplicate keys refused, and every way the parser fails on hostile input
    (deep nesting, a number beyond Python's digit limit, bad syntax) as `error` in one line."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKey as e:
        raise error(f"duplicate key {quote(e.args[0])}") from None
    except json.JSONDecodeError as e:
        raise error(f"malformed JSON (line {e.lineno} column {e.colno}: {e.msg})") from None
    except RecursionError:
        raise error("malformed JSON (nested too deeply)") from None
    except ValueError as e:         # int(): "Exceeds the limit (4300 digits) for integer string conversion"
        raise error(f"malformed JSON (a number too long to read: {str(e).split(':')[0]})") from None


_KINDS = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
          int: "a number", float: "a number", type(None): "null"}


def json_kind(value) -> str:
    return _KINDS.get(type(value), type(value).__name__)


def read_json_file(path, what: str, entries: type | None = None, nonempty: bool = False,
                   error=InputError) -> dict:
    """The JSON object in `path`, or `error` (one line naming the file): not a regular file,
    not UTF-8, malformed, duplicate keys, too deep, numbers too long, not an object, or (with
    `entries`) a value of another type than `entries` (dict: an object of objects)."""
    where = f"{what} {quote(path)}"
    try:
        text = read_text_file(path, what)
    except InputError as e:
        raise error(str(e)) from None
    if not text.strip():
        raise error(f"{where}: the file is empty")
    try:
        data = loads_json(text, error=InputError)
    except InputError as e:
        raise error(f"{where}: {e}") from None
    expected = "a non-empty JSON object" if nonempty else "a JSON object"
    if entries is not None:
        expected += " of entries"
    if not isinstance(data, dict) or (nonempty and not data):
        got = "an empty object" if isinstance(data, dict) else json_kind(data)
        raise error(f"{where}: expected {expected}, got {got}")
    for key, value in data.items() if entries is not None else ():
        if not isinstance(value, entries):
            raise error(f"{where}: entry {quote(key)}: expected {_KINDS.get(entries, entries.__name__)}, "
                        f"got {json_kind(value)}")
    return data


# ------------------------------------------------------------------ JSONL results files
def read_jsonl(path, repair: bool = False, log=None) -> list:
    """The records (one JSON object a line) of a results file; [] if there is none.

    A last line without its newline is a write cut short by a kill: it is dropped (cut off the
    file when `repair`). Any other unreadable line (a disk or copy fault) is an InputError, or,
    when `repair`, the file is kept as `<name>.corrupt-<n>` and rewritten with its readable
    lines, byte for byte, so the run resumes from them instead of failing on every rerun.
    `log(message)` is told about either repair (default: a warning on stderr); a read without
    `repair` reports a dropped last line only to a `log` it is given (a reader may just be
    racing a writer).
    """
    path = Path(path)
    if not os.path.lexists(path):
        return []
    raw = read_bytes(path, "results file")
    cut = raw.rfind(b"\n") + 1
    records, good, bad = _parse_records(raw[:cut])
    say = log or (_warn if repair else None)
    if bad and not repair:
        raise InputError(f"results file {quote(path)} line {bad[0]}: not a JSON object "
                         f"({len(bad)} unreadable line{'s' * (len(bad) > 1)})")
    if bad:
        aside = _keep_copy(path, "corrupt")
        atomic_write_bytes(path, b"".join(good))
        say(f"results file {quote(path)}: {len(bad)} unreadable line{'s' * (len(bad) > 1)} (first: line "
            f"{bad[0]}): kept the file as {aside.name} and resumed from its {len(records)} readable records")
    elif cut < len(raw):
        if repair:
            with open(path, "r+b") as f:
                f.truncate(cut)
        if say:
            say(f"results file {quote(path)}: {'cut' if repair else 'skipped'} a torn last line "
                "(a write cut short)")
    return records


def _parse_records(body: bytes):
    """(records, their lines as bytes, numbers of the unreadable lines)."""
    records, good, bad = [], [], []
    for i, line in enumerate(body.splitlines(keepends=True), 1):
        if not line.strip():
            continue
        try:
            rec = loads_json(line.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            rec = None
        if isinstance(rec, dict):
            records.append(rec)
            good.append(line)
        else:
            bad.append(i)
    return records, good, bad


def _keep_copy(path: Path, tag: str) -> Path:
    """A copy of `path` as `<name>.<tag>-<n>`, n the first free number (earlier copies stay).
    A hard link costs nothing and is atomic; where links are not allowed, the bytes are copied."""
    for n in range(1, 10_000):
        aside = path.with_name(f"{path.name}.{tag}-{n}")
        try:
            os.link(path, aside)
            return aside
        except FileExistsError:
            continue
        except OSError:
            try:
                with open(aside, "xb") as f:
                    f.write(path.read_bytes())
                return aside
            except FileExistsError:
                continue
    raise OutputError(f"cannot keep a copy of {quote(path)}: too many {tag} copies beside it")


def _warn(msg: str):
    print(f"warning: {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ locking
class LockError(UserError, RuntimeError):
    """An output another run is writing."""


class FileLock:
    """An exclusive, non-blocking lock on `path + '.lock'`: one writer per results file.
    Messages name `path`: the lock file is an implementation detail (the kernel drops the
    lock when its holder dies, so a leftover .lock file never blocks anything)."""

    def __init__(self, path, lock_file=None, what: str = ""):
        # `lock_file`: where the lock lives when `path` is a folder (its own file inside it);
        # `what` names `path` in the message (e.g. "train.out_dir").
        self.target = str(path)
        self.path = str(lock_file) if lock_file is not None else self.target + ".lock"
        self.what = f"{what} " if what else ""
        self.fd = None

    def __enter__(self):
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise OutputError(f"cannot write beside {quote(self.target)}: {e.strerror}") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise LockError(f"{self.what}{quote(self.target)} is in use by another run") from None
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def file_hash(path) -> str:
    """A short content hash (sha256, 16 hex digits) of a possibly large file."""
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]
