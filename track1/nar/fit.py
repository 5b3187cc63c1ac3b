"""Training NAR on labelled codes, scoring codes, and its checkpoint."""
from __future__ import annotations

import math

import numpy as np
import paddle
import paddle.nn.functional as F

from ..candidates import CandidateError, read_official
from ..errors import UserError
from ..runtime import checkpoint
from .encoding import N_FEATURES, N_TOKENS, encode
from .model import NAR
from .sampler import TierHistograms


class NARError(UserError, ValueError):
    """Bad NAR input; one line."""


def read_labels(path, space) -> tuple:
    """(keys, canonical codes, accs) of a GT file or a submission (official format, finite 'acc')."""
    try:
        data = read_official(path, space, need_acc=True, what="label file")
    except CandidateError as e:
        raise NARError(str(e)) from None
    keys = list(data)
    return keys, [space.canonical(data[k]["arch"]) for k in keys], np.array([data[k]["acc"] for k in keys], np.float64)


def tiers_of(accs, n_tiers: int) -> np.ndarray:
    """Tier 0 = the best fifth (for 5 tiers) by accuracy, ties broken by position."""
    order = np.argsort(-np.asarray(accs), kind="stable")
    tiers = np.empty(len(accs), np.int64)
    tiers[order] = np.arange(len(accs)) * n_tiers // len(accs)
    return tiers


def pairwise_rank_loss(score, acc):
    """Logistic ranking loss (ReNAS) over every ordered pair of the batch with distinct labels."""
    diff_s = score.unsqueeze(1) - score.unsqueeze(0)
    sign = paddle.sign(acc.unsqueeze(1) - acc.unsqueeze(0))
    mask = (sign != 0).astype("float32")
    n = mask.sum()
    if float(n) == 0:
        return score.sum() * 0.0
    return (F.softplus(-sign * diff_s) * mask).sum() / n


def build(ncfg) -> NAR:
    return NAR(N_TOKENS, N_FEATURES, ncfg["d_model"], ncfg["heads"], ncfg["layers"], ncfg["tiers"],
               ncfg["dropout"], ncfg["tier_momentum"])


def fit(ncfg, profile, codes, accs, log=None, progress=True):
    """Train NAR on (codes, accs); returns (model, meta). Deterministic for ncfg['seed']."""
    accs = np.asarray(accs, np.float64)
    if len(codes) < 2 * ncfg["tiers"]:
        raise NARError(f"NAR needs at least {2 * ncfg['tiers']} labelled codes for {ncfg['tiers']} tiers, got {len(codes)}")
    if not np.all(np.isfinite(accs)):
        raise NARError("labels hold a non-finite accuracy")
    paddle.seed(ncfg["seed"])
    rng = np.random.default_rng(ncfg["seed"])
    model = build(ncfg)
    tokens = encode(profile, codes)
    tiers = tiers_of(accs, ncfg["tiers"])
    # Labels standardised: the loss sees order only, but this keeps `sign` away from float noise.
    z = ((accs - accs.mean()) / (accs.std() + 1e-12)).astype(np.float32)
    opt = paddle.optimizer.AdamW(learning_rate=ncfg["lr"], parameters=model.parameters(),
                                 weight_decay=ncfg["weight_decay"])
    bs = min(ncfg["batch_size"], len(codes))
    steps = math.ceil(len(codes) / bs)
    it = range(ncfg["epochs"])
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(it, desc="nar", unit="epoch", mininterval=2)
        it = bar
    history = []
    model.train()
    for epoch in it:
        perm = rng.permutation(len(codes))
        tot = [0.0, 0.0]
        for b in range(steps):
            idx = perm[b * bs:(b + 1) * bs]
            if len(idx) < 2:
                continue
            x = paddle.to_tensor(tokens[idx])
            t = paddle.to_tensor(tiers[idx])
            score, logits, pooled = model(x)
            model.update_tiers(pooled, t)
            rank = pairwise_rank_loss(score, paddle.to_tensor(z[idx]))
            tier = F.cross_entropy(logits, t)
            loss = rank + ncfg["tier_weight"] * tier
            loss.backward()
            opt.step()
            opt.clear_grad()
            tot[0] += float(rank) / steps
            tot[1] += float(tier) / steps
        history.append({"epoch": epoch + 1, "rank_loss": tot[0], "tier_loss": tot[1]})
        if bar is not None:
            bar.set_postfix(rank=f"{tot[0]:.3f}", tier=f"{tot[1]:.3f}")
    model.eval()
    hist = TierHistograms.build(profile, codes, tiers, ncfg["tiers"], ncfg["bins"])
    meta = {"nar": dict(ncfg), "profile": profile.name, "n_train": len(codes), "history": history,
            "histograms": hist.to_dict()}
    return model, meta


def save(path, model, meta):
    checkpoint.save(path, {k: v.numpy() for k, v in model.state_dict().items()}, meta)


def load(path):
    """(model, meta) from `save`; a clear error when absent."""
    found = checkpoint.load(path)
    if found is None:
        raise NARError(f"no NAR checkpoint at '{path}.npz' (run `python tools/nar.py train` first)")
    arrays, meta = found
    model = build(meta["nar"])
    model.set_state_dict({k: paddle.to_tensor(v) for k, v in arrays.items()})
    model.eval()
    return model, meta
