"""What every scorer shares: the fixed images, BN modes and the score of a candidate's logits."""
from __future__ import annotations

import numpy as np
import paddle

from ..models.grouped import norm_by_rows


def score_images(splits, settings) -> dict:
    """The scored images (a seeded draw of `images` held-out validation images) and, for BN
    re-estimation, `recal_images` seeded training images. Never the test images."""
    rng = np.random.default_rng(settings["seed"])
    val = splits["val"]
    n = settings["images"]
    if n > len(val):
        raise ValueError(f"score.images {n} exceeds the {len(val)} held-out validation images: lower score.images "
                         "(data.val_size is fixed by the training run)")
    idx = np.sort(rng.permutation(len(val))[:n])
    x, y = val.subset(idx).arrays()
    out = {"x": x, "y": y}
    if settings["bn"] == "recal":
        tr = splits["train"]
        ridx = np.sort(rng.permutation(len(tr))[:settings["recal_images"]])
        out["x_recal"] = tr.subset(ridx).arrays()[0]
    return out


def metric(logits: np.ndarray, y: np.ndarray, kind: str) -> float:
    logits = logits.astype(np.float64)
    if kind == "acc":
        return float((logits.argmax(1) == y).mean())
    z = logits - logits.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    lp = logp[np.arange(len(y)), y]
    if kind == "neg_loss":
        return float(lp.mean())
    return float(np.exp(lp).mean())


def stats_bn(stats_rows: int, rows: int):
    """A BN replacement normalising with the statistics of the first `stats_rows` of the
    `rows` samples (all of them: batch statistics; the re-estimation images placed first:
    BN re-estimated on them). Biased variance, as BN's own batch statistics. Batch
    statistics use the native BN op in training mode; the program's private scope absorbs
    its running-statistics update."""
    def bn(layer, x):
        if stats_rows >= rows:
            return paddle.nn.functional.batch_norm(
                x, layer._mean, layer._variance, layer.weight, layer.bias,
                training=True, momentum=layer._momentum, epsilon=layer._epsilon)
        return norm_by_rows(x, stats_rows, layer.weight, layer.bias, layer._epsilon)
    return bn
