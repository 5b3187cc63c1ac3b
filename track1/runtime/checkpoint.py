"""Checkpoints: one .npz holding the arrays and the bookkeeping (replaced atomically, so the
two can never come from different saves), plus a readable JSON copy of the bookkeeping."""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ..errors import OutputError, UserError, not_a_file, quote
from ..io_utils import atomic_write_json, loads_json, read_json_file

META_KEY = "__meta__"


def save(path, arrays: dict, meta: dict):
    """Write `path`.npz (arrays + meta), then `path`.json (a copy of the meta, for people)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"checkpoint {quote(str(path) + '.npz')}: cannot create its folder ({e.strerror or e})") from None
    # A write killed before its rename leaves its temporary file: the next save removes it
    # (one writer per folder: training holds the out_dir's lock).
    for stale in path.parent.glob(f".{path.name}.*.npz"):
        stale.unlink(missing_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npz")
    except OSError as e:
        raise OutputError(f"checkpoint {quote(str(path) + '.npz')}: cannot write ({e.strerror or e})") from None
    os.close(fd)
    try:
        np.savez(tmp, **{k: np.asarray(v) for k, v in arrays.items()}, **{META_KEY: np.array(json.dumps(meta))})
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, str(path) + ".npz")
    except OSError as e:
        # A full disk: the previous checkpoint was never touched (the new one goes to a
        # temporary file first), so a rerun with --resume after freeing space loses nothing more.
        raise OutputError(f"checkpoint {quote(str(path) + '.npz')}: cannot write ({e.strerror or e}); the "
                          "previous checkpoint is kept: free space and rerun with --resume") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    atomic_write_json(str(path) + ".json", meta, indent=1)


class CheckpointError(UserError, ValueError):
    """A checkpoint that cannot be used as it is: the message names the file and the fault."""


def load(path):
    """(arrays, meta), or None when no checkpoint exists at `path`. The meta comes from the
    .npz itself (checkpoints written before it held one: from the JSON beside it). A file
    that is there but unreadable, torn or without its bookkeeping is a CheckpointError."""
    path = Path(path)
    npz, js = Path(str(path) + ".npz"), Path(str(path) + ".json")
    if not npz.exists():
        return None
    if not npz.is_file():
        raise CheckpointError(not_a_file("checkpoint", npz))
    try:
        with np.load(npz, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files if k != META_KEY}
            meta = loads_json(str(z[META_KEY])) if META_KEY in z.files else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise CheckpointError(f"checkpoint {quote(npz)} is not a readable track1 checkpoint (truncated, empty or "
                              f"another format: {type(e).__name__}); retrain, or restore it") from None
    if meta is None:
        if not js.is_file():
            raise CheckpointError(f"checkpoint {quote(npz)} holds no metadata (and no {js.name} beside it): "
                                  "not written by track1")
        meta = read_json_file(js, "checkpoint metadata")
    if not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint {quote(npz)}: its metadata is not an object")
    return arrays, meta


def check_state(arrays: dict, expected: dict, path, optional=("@",)) -> None:
    """Every tensor `expected` ({name: shape}) names must be in `arrays` with that shape and
    finite values; nothing else may be (keys holding an `optional` marker, e.g. optimizer
    buffers, are allowed but must be finite too). One line naming the file and the first
    bad tensor. NaN weights must never reach scoring: a forward turns them into finite,
    chance-level scores, a full submission that is silently wrong."""
    for k, shape in expected.items():
        if k not in arrays:
            raise CheckpointError(f"checkpoint {quote(path)}: tensor '{k}' is missing (the supernet of its config "
                                  f"has {len(expected)} tensors, the file {len(arrays)})")
        if tuple(arrays[k].shape) != tuple(shape):
            raise CheckpointError(f"checkpoint {quote(path)}: tensor '{k}' has shape {tuple(arrays[k].shape)}, "
                                  f"the supernet of its config {tuple(shape)}")
    for k, v in arrays.items():
        if k not in expected and not any(m in k for m in optional):
            raise CheckpointError(f"checkpoint {quote(path)}: unknown tensor '{k}' (not in the supernet of its config)")
        if np.issubdtype(v.dtype, np.floating) and not np.isfinite(v).all():
            raise CheckpointError(f"checkpoint {quote(path)}: tensor '{k}' holds non-finite values "
                                  f"({int((~np.isfinite(v)).sum())} of {v.size}); the run diverged or the file is damaged")


def load_weights(path) -> dict:
    """A state dict from .npz (ours) or .pdparams (Paddle), as numpy arrays."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(not_a_file("weights file", path))
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files if k != META_KEY}
        import paddle
        state = paddle.load(str(path))
    except Exception as e:          # noqa: BLE001  (any reader failure: the file is not usable weights)
        raise CheckpointError(f"weights file {quote(path)} is not readable as .npz or .pdparams "
                              f"({type(e).__name__})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"weights file {quote(path)} holds no state dict")
    return {k: np.asarray(v) for k, v in state.items() if hasattr(v, "shape")}
