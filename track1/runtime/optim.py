"""The one optimiser and learning-rate schedule of track1: SGD with (Nesterov) momentum,
linear warmup, then cosine to zero (or constant). Both training stacks take theirs here."""
from __future__ import annotations

import math

import paddle


def step_budget(n_images: int, batch_size: int, epochs: float, warmup_epochs: float, section: str,
                error=ValueError) -> tuple:
    """(steps per epoch, total steps, warm-up steps) of a run of `epochs` over `n_images` in
    full batches: the one arithmetic of supernet and stand-alone training. `error` (with
    the config `section` in its message) when a batch exceeds the images."""
    per_epoch = n_images // batch_size
    if per_epoch == 0:
        raise error(f"{section}.batch_size {batch_size} exceeds the {n_images} training images")
    return per_epoch, max(1, round(epochs * per_epoch)), round(warmup_epochs * per_epoch)


def lr_at(step: int, total: int, warmup: int, base: float, schedule: str = "cosine") -> float:
    """Linear warmup over `warmup` steps, then cosine to zero or constant."""
    if warmup and step < warmup:
        return base * (step + 1) / warmup
    if schedule == "constant":
        return base
    t = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


def schedule(lr_fn):
    """A scheduler whose value at step s is `lr_fn(s)`; step it once per optimizer step."""
    return paddle.optimizer.lr.LambdaDecay(1.0, lr_fn)


def momentum(sched, settings, parameters=None):
    """Momentum SGD from a settings section with `momentum`, `nesterov`, `weight_decay`
    (`parameters` in dygraph; a static program's `minimize` finds its own)."""
    return paddle.optimizer.Momentum(sched, momentum=settings["momentum"], use_nesterov=settings["nesterov"],
                                     parameters=parameters, weight_decay=settings["weight_decay"] or None)
