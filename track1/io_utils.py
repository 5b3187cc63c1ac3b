"""Crash-safe file writing: atomic replace for whole files, single-write appends for JSONL."""
from __future__ import annotations

import fcntl
import json
import os
import tempfile
from pathlib import Path


def atomic_write_text(path, text: str):
    """Write to a temporary file in the same folder, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path, obj, indent=None):
    atomic_write_text(path, json.dumps(obj, indent=indent) + "\n")


def append_line(path, line: str):
    """Append one line with a single write(2) and fsync: a kill leaves it whole or absent."""
    append_lines(path, [line])


def append_lines(path, lines):
    """Append lines with one write(2) and one fsync; a torn tail is dropped by read_jsonl."""
    if any("\n" in line for line in lines):
        raise ValueError("a JSONL record must not contain a newline")
    if not lines:
        return
    data = "".join(line + "\n" for line in lines).encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_jsonl(path, repair: bool = False) -> list:
    """Records of a JSONL file. A last line without its newline is a torn write: it is
    dropped (and cut off the file when `repair`); a bad line elsewhere is an error."""
    path = Path(path)
    if not path.exists():
        return []
    raw = path.read_bytes()
    cut = raw.rfind(b"\n") + 1
    if cut < len(raw) and repair:
        with open(path, "r+b") as f:
            f.truncate(cut)
    out = []
    for i, line in enumerate(raw[:cut].decode().splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            raise ValueError(f"'{path}' line {i}: not valid JSON") from None
    return out


class FileLock:
    """An exclusive, non-blocking lock on `path + '.lock'`: one writer per results file."""

    def __init__(self, path):
        self.path = str(path) + ".lock"
        self.fd = None

    def __enter__(self):
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise RuntimeError(f"'{self.path[:-5]}' is in use by another run (lock {self.path})") from None
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
