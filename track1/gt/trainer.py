"""Train one code stand-alone under the protocol and evaluate it on the test images."""
from __future__ import annotations

import time

import numpy as np
import paddle

from ..classifier import evaluate, make_classifier
from ..models.standalone import StandaloneNet
from ..profile import Profile
from .predictions import encode_labels, flip_average
from .protocol import lr_at


def training_subset(split, n_images: int, split_seed: int):
    """The protocol's training images: a fixed seeded subset, the same for every code and seed."""
    if n_images >= len(split):
        return split
    idx = np.sort(np.random.default_rng(split_seed + 1).permutation(len(split))[:n_images])
    return split.subset(idx)


def train_one(cfg, code: str, seed: int, splits: dict, backend: str | None = None,
              curve: bool = False, on_step=None, max_steps: int | None = None,
              predictions: bool = False) -> dict:
    """Returns the result record (without file bookkeeping fields).

    `on_step(step, total, loss)` is called after every step (progress, cancellation);
    `max_steps` truncates training (tests), `curve` evaluates the test set every epoch,
    `predictions` adds the per-image predicted classes (`pred`, `pred_avg`) to the record.
    Beside the last iterate (`acc`, `test_loss`) the record holds its flip-averaged
    evaluation (`*_flip`) and, with `standalone.average_from` > 0, the same two for the
    uniform average of the weights after every step of the run's tail (`*_avg`, `*_avg_flip`).
    None of these touch the training or the last iterate's evaluation.
    """
    profile = Profile.from_config(cfg)
    st, data = cfg["standalone"], cfg["data"]
    code = profile.space.canonical(code)
    backend = backend or st["backend"]
    train = training_subset(splits["train"], st["train_images"], data["split_seed"])
    test = splits["test"]
    bs = st["batch_size"]
    steps_per_epoch = len(train) // bs
    if steps_per_epoch == 0:
        raise ValueError(f"standalone.batch_size {bs} exceeds the {len(train)} training images")
    total = max(1, round(st["epochs"] * steps_per_epoch))
    warmup = round(st["warmup_epochs"] * steps_per_epoch)
    if max_steps is not None:
        total = min(total, max_steps)

    def make_net():
        paddle.seed(seed)
        return StandaloneNet(profile, code, zero_init_last_bn=st["zero_init_last_bn"])

    clf = make_classifier(backend, make_net, profile.input_shape(bs),
                          lr_fn=lambda s: lr_at(s, total, warmup, st["lr"], st["schedule"]),
                          momentum=st["momentum"], nesterov=st["nesterov"],
                          weight_decay=st["weight_decay"], label_smoothing=st["label_smoothing"])
    rng = np.random.default_rng(seed)
    aug = dict(augment=st["augment"], pad=data["pad_crop"], flip=data["flip"])
    t0 = time.time()
    step, epoch, losses, points = 0, 0, [], []
    average = TailAverage(round(st["average_from"] * total)) if st["average_from"] > 0 else None

    def test_eval():
        return evaluate(clf, test.batches(st["eval_batch_size"], limit=st["eval_images"]))

    while step < total:
        epoch_losses = []
        for x, y in train.batches(bs, rng, drop_last=True, **aug):
            loss = clf.train_step(x, y)
            if not np.isfinite(loss):
                raise FloatingPointError(f"arch {code} seed {seed}: loss became {loss} at step {step}")
            epoch_losses.append(loss)
            step += 1
            if average is not None:
                average.add(step, clf)
            if on_step:
                on_step(step, total, loss)
            if step >= total:
                break
        epoch += 1
        losses = epoch_losses
        if curve:
            # Its own stream: drawing the curve's images from `rng` would change the data
            # order of every later epoch, and so the run's result.
            bn_recal(clf, train, st, np.random.default_rng([seed, 2, epoch]))
            r = test_eval()
            points.append({"epoch": round(step / steps_per_epoch, 3), "acc": r["acc"], "loss": r["loss"],
                           "train_loss": float(np.mean(epoch_losses))})
    train_time = time.time() - t0
    bn_recal(clf, train, st, rng)
    record = {"arch": code, "seed": int(seed), **test_metrics(clf, test, st, "", predictions)}
    if average is not None:
        clf.set_state(average.state())
        # Its own stream: the last iterate's recalibration above used `rng` as it always has.
        bn_recal(clf, train, st, np.random.default_rng([seed, 3]))
        record.update(test_metrics(clf, test, st, "_avg", predictions))
        record["avg_steps"] = average.count
    record.update({
        "train_loss": float(np.mean(losses)), **profile.cost(code),
        "steps": step, "epochs": round(step / steps_per_epoch, 3), "backend": backend,
        "train_img_per_s": round(step * bs / train_time, 1), "wall_s": round(time.time() - t0, 1),
    })
    if curve:
        record["curve"] = points
    return record


def test_metrics(clf, test, st, suffix: str, predictions: bool) -> dict:
    """Plain and flip-averaged accuracy / NLL on the test images (one pass each)."""
    logits, flipped = [], []
    plain = evaluate(clf, test.batches(st["eval_batch_size"], limit=st["eval_images"]), logits)
    evaluate(clf, ((np.ascontiguousarray(x[..., ::-1]), y)
                   for x, y in test.batches(st["eval_batch_size"], limit=st["eval_images"])), flipped)
    labels = test.labels[:plain["n"]]
    both = flip_average(np.concatenate(logits), np.concatenate(flipped), labels)
    out = {f"acc{suffix}": plain["acc"], f"test_loss{suffix}": plain["loss"],
           f"acc{suffix}_flip": both["acc"], f"test_loss{suffix}_flip": both["loss"]}
    if predictions:
        out[f"pred{suffix}"] = encode_labels(np.concatenate(logits).argmax(1))
    return out


class TailAverage:
    """Uniform average of the weights after every step past `start` (stochastic weight
    averaging over the run's tail); BN statistics are re-estimated for it afterwards."""

    def __init__(self, start: int):
        self.start, self.count, self.sum = start, 0, None

    def add(self, step: int, clf):
        if step <= self.start:
            return
        state = clf.get_state()
        if self.sum is None:
            self.sum = {k: v.astype(np.float64) for k, v in state.items()}
        else:
            for k, v in state.items():
                self.sum[k] += v
        self.count += 1

    def state(self) -> dict:
        if not self.count:
            raise ValueError("weight average: no step after its start")
        return {k: (v / self.count).astype(np.float32) for k, v in self.sum.items()}


def bn_recal(clf, train, st, rng):
    n = st["bn_recalib_images"]
    if n > 0:
        clf.recalibrate_bn(x for x, _ in train.batches(st["batch_size"], rng, limit=n))
