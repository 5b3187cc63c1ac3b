"""Accuracy of sub-networks during training, and the supernet's ranking of the GT codes."""
from __future__ import annotations

import numpy as np

from ..bn import recalibrate
from ..runtime.inference import DygraphInference, evaluate


def evaluate_subnet(net, code, val, train, n_eval: int, n_recal: int, seed: int = 0, batch: int = 500) -> dict:
    """Top-1 on the first `n_eval` held-out images of the extracted sub-network, its BN
    statistics re-estimated on `n_recal` seeded training images (the supernet is untouched)."""
    sub = net.get_active_subnet(code)
    if n_recal > 0:
        rng = np.random.default_rng(seed)
        recalibrate(sub, (x for x, _ in train.batches(min(batch, n_recal), rng, limit=n_recal)))
    return evaluate(DygraphInference(sub), val.batches(batch, limit=n_eval))


def rank_against_gt(net, gt: dict, val, train, n_eval: int, n_recal: int, seed: int) -> dict:
    """Kendall tau and |Pearson| of the supernet's accuracies of the GT codes vs the GT."""
    from ..metrics import kendall, pearson
    pred, true = [], []
    for key, entry in gt.items():
        pred.append(evaluate_subnet(net, entry["arch"], val, train, n_eval, n_recal, seed)["acc"])
        true.append(entry["acc"])
    return {"gt_kendall_tau": kendall(pred, true), "gt_pearson_abs": abs(pearson(pred, true)), "gt_n": len(true)}
