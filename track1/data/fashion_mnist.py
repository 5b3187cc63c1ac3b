"""Fashion-MNIST from its IDX .gz files, found without the network where possible."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from .common import DataError, Split, not_a_folder
from ..errors import quote

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
ENV = "TRACK1_DATA"
MEAN, STD = (0.2860,), (0.3530,)     # of the 60,000 training images


def paddle_cache_dir() -> str:
    return os.path.join(os.path.expanduser("~"), ".cache", "paddle", "dataset", "fashion-mnist")


def search_dirs(root: str | None) -> list:
    """A root given by flag/config, else by $TRACK1_DATA, is the only place looked in (a
    typo must not silently fall back to other data); otherwise the usual places in order."""
    given = root or os.environ.get(ENV)
    return [given] if given else [DEBIAN_DIR, paddle_cache_dir()]


def _complete(d) -> bool:
    return all((Path(d) / f).is_file() for f in FILES.values())


def find_root(root: str | None = None) -> Path:
    tried = search_dirs(root)
    for d in tried:
        if _complete(d):
            return Path(d)
    if root or os.environ.get(ENV):
        src = "data root" if root else f"${ENV}"
        state = not_a_folder(tried[0]) if not Path(tried[0]).is_dir() else f"lacks {', '.join(FILES.values())}"
        raise DataError(f"Fashion-MNIST: {src} {quote(tried[0])} {state}")
    raise DataError(
        "Fashion-MNIST not found: looked in " + ", ".join(tried) +
        f" for {', '.join(FILES.values())}. Install it with `apt-get install dataset-fashion-mnist`, "
        f"point {ENV} or data.root at a folder holding the four files, "
        "or run `python tools/data.py download` (uses Paddle's downloader; needs internet).")


def read_idx(path: Path) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:        # not gzip data, or cut short
        raise DataError(f"Fashion-MNIST: {quote(path)} cannot be read as gzip ({e})") from None
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"Fashion-MNIST: {quote(path)} is not an IDX file")
    dtype_code, ndim = raw[2], raw[3]
    if dtype_code != 0x08:
        raise DataError(f"Fashion-MNIST: {quote(path)} holds IDX type {dtype_code:#x}, expected unsigned bytes")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DataError(f"Fashion-MNIST: {quote(path)} is truncated ({data.size} of {int(np.prod(dims))} values)")
    return data.reshape(dims)


def load_arrays(root: str | None = None) -> dict:
    base = find_root(root)
    arrays = {k: read_idx(base / f) for k, f in FILES.items()}
    for part in ("train", "test"):
        if len(arrays[f"{part}_images"]) != len(arrays[f"{part}_labels"]):
            raise DataError(f"Fashion-MNIST: {part} images and labels differ in count under {quote(base)}")
    return arrays


def load_fashion_mnist_splits(root: str | None, val_size: int, split_seed: int) -> dict:
    """train / val (a fixed seeded part of the 60k held out) / test (the 10k, for ground truth)."""
    a = load_arrays(root)
    full = Split(a["train_images"], a["train_labels"], MEAN, STD, "train")
    if not 0 <= val_size < len(full):
        raise DataError(f"data.val_size {val_size} must be below the {len(full)} training images")
    perm = np.random.default_rng(split_seed).permutation(len(full))
    val_idx, train_idx = np.sort(perm[:val_size]), np.sort(perm[val_size:])
    return {
        "train": full.subset(train_idx, "train"),
        "val": full.subset(val_idx, "val"),
        "test": Split(a["test_images"], a["test_labels"], MEAN, STD, "test"),
    }


def download(root: str | None = None) -> str:
    """Fetch the files with Paddle's own downloader into Paddle's cache (needs internet)."""
    from paddle.vision.datasets import FashionMNIST
    for mode in ("train", "test"):
        FashionMNIST(mode=mode, download=True)
    return paddle_cache_dir()
