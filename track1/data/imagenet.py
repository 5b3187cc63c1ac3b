"""ImageNet in the ImageFolder layout: ROOT/train/<class>/<image>, ROOT/val/<class>/<image>.

Images are decoded on the fly by a paddle.io.DataLoader (too large to preload); the split
API matches the in-memory one: `batches(batch_size, rng, augment=..., limit=...)`.
`train` minus a seeded `val_size` hold-out is for training, the hold-out scores candidates,
and ROOT/val is the test set (ground truth).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .common import DataError, not_a_folder
from ..errors import quote

MEAN = np.array([0.485, 0.456, 0.406], np.float32).reshape(3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], np.float32).reshape(3, 1, 1)
EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def scan(folder: Path, classes=None):
    if not folder.is_dir():
        raise DataError(f"ImageNet: {quote(folder)} {not_a_folder(folder)} "
                        "(expected ImageFolder layout ROOT/train, ROOT/val)")
    found = sorted(d.name for d in folder.iterdir() if d.is_dir())
    if not found:
        raise DataError(f"ImageNet: {quote(folder)} has no class folders (expected {folder}/<class>/<image>)")
    if classes is not None and found != classes:
        extra = sorted(set(found) ^ set(classes))[:3]
        raise DataError(f"ImageNet: class folders of {quote(folder)} differ from train's (e.g. {extra})")
    files, labels = [], []
    for i, c in enumerate(found):
        imgs = sorted(f for f in os.listdir(folder / c) if f.lower().endswith(EXTENSIONS))
        if not imgs:
            raise DataError(f"ImageNet: class folder {quote(folder / c)} holds no images")
        files += [str(folder / c / f) for f in imgs]
        labels += [i] * len(imgs)
    return found, files, np.array(labels, np.int64)


class FolderSplit:
    """Images decoded on the fly by one persistent paddle.io.DataLoader per batch size (its
    workers start once, not every epoch); each epoch's order and augmentation seeds go to
    the workers with the indices. Images travel as uint8 and are normalised where the batch
    lands: on the GPU when the loader delivers there (no GPU -> host -> GPU copy), else on
    the host (numpy, as every CPU consumer takes)."""

    def __init__(self, files, labels, image_size, workers, name):
        self.files, self.labels = list(files), np.asarray(labels, np.int64)
        self.image_size, self.workers, self.name = image_size, workers, name
        self._loaders = {}

    def __len__(self):
        return len(self.labels)

    def subset(self, idx, name=None):
        return FolderSplit([self.files[i] for i in idx], self.labels[idx], self.image_size, self.workers,
                           name or self.name)

    def arrays(self, limit: int | None = None):
        """(x, y) of the first `limit` images, decoded as for evaluation (resize + centre crop):
        the fixed images a scorer holds in memory."""
        batches = list(self.batches(256, limit=limit))
        if not batches:
            return np.zeros((0, 3, self.image_size, self.image_size), np.float32), np.zeros(0, np.int64)
        xs, ys = zip(*batches)
        return np.concatenate(xs), np.concatenate(ys)

    def batches(self, batch_size, rng=None, augment=False, pad=0, flip=True, drop_last=False, limit=None,
                part=(0, 1)):
        """As the in-memory splits' `batches`; with `part=(rank, ranks)` a rank decodes only
        its slice of every batch (augmentation is seeded by position, so the slices are those
        of a one-process run)."""
        n = len(self) if limit is None else min(limit, len(self))
        order = rng.permutation(len(self))[:n] if rng is not None else np.arange(n)
        seed = int(rng.integers(2 ** 31)) if rng is not None else 0
        r, k = part
        if k > 1 and batch_size % k:
            raise ValueError(f"batch size {batch_size} is not divisible by {k} ranks")
        stop = n - n % batch_size if drop_last else n
        aug = bool(augment and rng is not None)
        keys = [[(int(order[p]), p, aug, bool(flip), seed)
                 for p in range(s + batch_size * r // k, min(s + batch_size * (r + 1) // k, stop))]
                for s in range(0, stop, batch_size)]
        loader, sampler = self._loader()
        sampler.keys = [b for b in keys if b]
        for x, y in loader:
            yield _normalised(x), (y if _on_device(x) else np.asarray(y))

    def _loader(self):
        if "loader" not in self._loaders:
            import paddle
            sampler = _Batches()
            loader = paddle.io.DataLoader(_Decode(self), batch_sampler=sampler, num_workers=self.workers,
                                          return_list=True, persistent_workers=self.workers > 0)
            self._loaders["loader"] = (loader, sampler)
        return self._loaders["loader"]


class _Batches:
    """The loader's batch sampler: this epoch's batches of decode keys (set before iterating)."""

    def __init__(self):
        self.keys = []

    def __iter__(self):
        return iter(list(self.keys))

    def __len__(self):
        return len(self.keys)


def _on_device(x) -> bool:
    import paddle
    return isinstance(x, paddle.Tensor) and not x.place.is_cpu_place()


def _normalised(x):
    """uint8 NCHW -> the profile's normalised float32, on the batch's own device."""
    if _on_device(x):
        import paddle
        mean, std = paddle.to_tensor(MEAN[None]), paddle.to_tensor(STD[None])
        return (x.astype("float32") / 255.0 - mean) / std
    return (np.asarray(x).astype(np.float32) / 255.0 - MEAN[None]) / STD[None]


class _Decode:
    """Decode + crop one image, keyed by (image index, position in the epoch's order, augment,
    flip, epoch seed): randomness from (seed, position), so workers and ranks are
    deterministic. Returns uint8 CHW (4x less to move than float32)."""

    def __init__(self, split):
        self.files, self.labels, self.size = split.files, split.labels, split.image_size

    def __len__(self):
        return len(self.files)

    def __getitem__(self, key):
        from PIL import Image
        j, i, augment, flip, seed = key
        size = self.size
        with Image.open(self.files[j]) as im:
            im = im.convert("RGB")
            if augment:
                rng = np.random.default_rng([seed, i])
                im = _random_resized_crop(im, size, rng)
                if flip and rng.random() < 0.5:
                    im = im.transpose(Image.FLIP_LEFT_RIGHT)
            else:
                short = int(round(size / 0.875))
                w, h = im.size
                s = short / min(w, h)
                im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BILINEAR)
                w, h = im.size
                left, top = (w - size) // 2, (h - size) // 2
                im = im.crop((left, top, left + size, top + size))
            x = np.ascontiguousarray(np.asarray(im, np.uint8).transpose(2, 0, 1))
        return x, self.labels[j]


def _random_resized_crop(im, size, rng, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    from PIL import Image
    w, h = im.size
    for _ in range(10):
        area = w * h * rng.uniform(*scale)
        r = np.exp(rng.uniform(np.log(ratio[0]), np.log(ratio[1])))
        cw, ch = int(round(np.sqrt(area * r))), int(round(np.sqrt(area / r)))
        if 0 < cw <= w and 0 < ch <= h:
            left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            return im.resize((size, size), Image.BILINEAR, box=(left, top, left + cw, top + ch))
    return im.resize((size, size), Image.BILINEAR)


def load_imagenet_splits(root, data, profile) -> dict:
    if not root:
        raise DataError("ImageNet: no data root; set data.root (or --set data.root=PATH) to a folder "
                        "holding train/ and val/ in the ImageFolder layout")
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"ImageNet: data root {quote(root)} {not_a_folder(root)}")
    size, workers, n_classes = profile.image_size, data["workers"], profile.num_classes
    classes, files, labels = scan(root / "train")
    if len(classes) != n_classes:
        raise DataError(f"ImageNet: {quote(root / 'train')} has {len(classes)} classes, profile.num_classes is "
                        f"{n_classes}")
    _, vfiles, vlabels = scan(root / "val", classes)
    full = FolderSplit(files, labels, size, workers, "train")
    val_size = data["val_size"]
    if not 0 <= val_size < len(full):
        raise DataError(f"data.val_size {val_size} must be below the {len(full)} training images")
    perm = np.random.default_rng(data["split_seed"]).permutation(len(full))
    return {"train": full.subset(np.sort(perm[val_size:]), "train"),
            "val": full.subset(np.sort(perm[:val_size]), "val"),
            "test": FolderSplit(vfiles, vlabels, size, workers, "test")}
