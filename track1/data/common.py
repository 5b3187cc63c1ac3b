"""The in-memory split container, its augmentation, and fixed subsets."""
from __future__ import annotations

import numpy as np

from ..errors import UserError, describe


class DataError(UserError, RuntimeError):
    """Data missing or malformed; the message is one line and says where track1 looked."""


def not_a_folder(path) -> str:
    """'does not exist', or what `path` is instead of a folder ('is a regular file, not a folder')."""
    state = describe(path)
    return state if state.startswith("does not exist") else f"{state}, not a folder"


class Split:
    """Images held in memory as uint8 (N, C, H, W) with int64 labels.

    `batches` yields normalised float32 batches; order and augmentation come from the
    numpy Generator passed in, so the caller's single seed decides everything.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, mean, std, name: str = ""):
        if images.ndim == 3:
            images = images[:, None]
        self.images, self.labels = images, labels.astype(np.int64)
        self.mean = np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
        self.std = np.asarray(std, np.float32).reshape(1, -1, 1, 1)
        self.name = name

    def __len__(self):
        return len(self.labels)

    def subset(self, idx, name=None) -> "Split":
        s = Split.__new__(Split)
        s.images, s.labels, s.mean, s.std = self.images[idx], self.labels[idx], self.mean, self.std
        s.name = name or self.name
        return s

    def normalise(self, raw: np.ndarray) -> np.ndarray:
        return (raw.astype(np.float32) * (1.0 / 255.0) - self.mean) / self.std

    def batches(self, batch_size: int, rng: np.random.Generator | None = None, augment: bool = False,
                pad: int = 2, flip: bool = True, drop_last: bool = False, limit: int | None = None,
                part=(0, 1)):
        """Yield (x, y). With `rng`: shuffled (and augmented if asked); without: in order.
        `part=(rank, ranks)`: this rank's slice of every batch (the whole batch is augmented
        first, so every rank draws the same stream from `rng`)."""
        r, k = part
        n = len(self) if limit is None else min(limit, len(self))
        order = rng.permutation(len(self))[:n] if rng is not None else np.arange(n)
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            idx = order[start:start + batch_size]
            raw = self.images[idx]
            if augment and rng is not None:
                raw = augment_batch(raw, rng, pad, flip)
            lo, hi = len(idx) * r // k, len(idx) * (r + 1) // k
            yield self.normalise(raw[lo:hi]), self.labels[idx[lo:hi]]

    def arrays(self, limit: int | None = None):
        n = len(self) if limit is None else min(limit, len(self))
        return self.normalise(self.images[:n]), self.labels[:n]


def augment_batch(raw: np.ndarray, rng: np.random.Generator, pad: int, flip: bool) -> np.ndarray:
    """Random pad-and-crop (zero padding) and horizontal flip, per image."""
    b, c, h, w = raw.shape
    out = raw
    if pad > 0:
        padded = np.zeros((b, c, h + 2 * pad, w + 2 * pad), raw.dtype)
        padded[:, :, pad:pad + h, pad:pad + w] = raw
        dy = rng.integers(0, 2 * pad + 1, b)
        dx = rng.integers(0, 2 * pad + 1, b)
        rows = dy[:, None] + np.arange(h)[None]           # (b, h)
        cols = dx[:, None] + np.arange(w)[None]           # (b, w)
        out = padded[np.arange(b)[:, None, None, None], np.arange(c)[None, :, None, None],
                     rows[:, None, :, None], cols[:, None, None, :]]
    if flip:
        mask = rng.random(b) < 0.5
        out = out.copy() if out is raw else out
        out[mask] = out[mask][..., ::-1]
    return out


def fixed_subset(split, n_images: int, split_seed: int):
    """A fixed seeded subset of `n_images` of a split, the same for every code, seed and
    strategy (a training protocol's images)."""
    if n_images >= len(split):
        return split
    idx = np.sort(np.random.default_rng(split_seed + 1).permutation(len(split))[:n_images])
    return split.subset(idx)
