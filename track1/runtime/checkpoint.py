"""Checkpoints: one .npz holding the arrays and the bookkeeping (replaced atomically, so the
two can never come from different saves), plus a readable JSON copy of the bookkeeping."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from ..io_utils import atomic_write_json

META_KEY = "__meta__"


def save(path, arrays: dict, meta: dict):
    """Write `path`.npz (arrays + meta), then `path`.json (a copy of the meta, for people)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, **{k: np.asarray(v) for k, v in arrays.items()}, **{META_KEY: np.array(json.dumps(meta))})
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, str(path) + ".npz")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    atomic_write_json(str(path) + ".json", meta, indent=1)


def load(path):
    """(arrays, meta), or None when no checkpoint exists at `path`. The meta comes from the
    .npz itself (checkpoints written before it held one: from the JSON beside it)."""
    path = Path(path)
    npz, js = Path(str(path) + ".npz"), Path(str(path) + ".json")
    if not npz.is_file():
        return None
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files if k != META_KEY}
        meta = json.loads(str(z[META_KEY])) if META_KEY in z.files else None
    if meta is None:
        if not js.is_file():
            return None
        meta = json.loads(js.read_text())
    return arrays, meta


def load_weights(path) -> dict:
    """A state dict from .npz (ours) or .pdparams (Paddle), as numpy arrays."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file '{path}' does not exist")
    if path.suffix == ".npz":
        with np.load(path) as z:
            return {k: z[k] for k in z.files if k != META_KEY}
    import paddle
    return {k: np.asarray(v) for k, v in paddle.load(str(path)).items()}
