"""Train one code stand-alone under the protocol and evaluate it on the test images."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import paddle

from ..data import fixed_subset
from ..models.standalone import StandaloneNet
from ..runtime.inference import DygraphInference, StaticInference, evaluate
from ..runtime import checkpoint
from ..runtime.optim import lr_at, step_budget
from ..train.engines import DygraphEngine, PlainTask, StaticEngine
from ..train.strategies import StepPlan
from .predictions import encode_labels, flip_average


def train_one(st, data, profile, code: str, seed: int, splits: dict, backend: str | None = None,
              curve: bool = False, on_step=None, max_steps: int | None = None,
              predictions: bool = False, weights_out: str | None = None) -> dict:
    """Train `code` under the protocol of the `standalone` section `st` (augmentation by the
    `data` section) and evaluate it on the test split; returns the result record (without
    file bookkeeping fields). The training is the supernet engines' running a one-code plan.

    `on_step(step, total, loss)` is called after every step (progress, cancellation);
    `max_steps` truncates training (tests), `curve` evaluates the test set every epoch,
    `predictions` adds the per-image predicted classes (`pred`, `pred_avg`) to the record;
    `weights_out` (a .npz path) keeps the evaluated last iterate, in the structured names
    `train.init` and `train.distill_teacher` read (a pretrained start for the supernet).
    Beside the last iterate (`acc`, `test_loss`) the record holds its flip-averaged
    evaluation (`*_flip`) and, with `standalone.average_from` > 0, the same two for the
    uniform average of the weights after every step of the run's tail (`*_avg`, `*_avg_flip`).
    None of these touch the training or the last iterate's evaluation.
    """
    code = profile.space.canonical(code)
    on_gpu = paddle.device.get_device().startswith("gpu")
    backend, _ = resolve_backend(backend or st["backend"], "gpu" if on_gpu else "cpu")
    train = fixed_subset(splits["train"], st["train_images"], data["split_seed"])
    test = splits["test"]
    bs = st["batch_size"]
    steps_per_epoch, total, warmup = step_budget(len(train), bs, st["epochs"], st["warmup_epochs"], "standalone")
    if max_steps is not None:
        total = min(total, max_steps)

    def make_net():
        paddle.seed(seed)
        return StandaloneNet(profile, code, zero_init_last_bn=st["zero_init_last_bn"])

    engine, model = _engine(backend, make_net, profile.input_shape(bs), st,
                            lambda s: lr_at(s, total, warmup, st["lr"], st["schedule"]))
    average = TailAverage(round(st["average_from"] * total)) if st["average_from"] > 0 else None
    rng = np.random.default_rng(seed)
    t0, c0 = time.time(), time.process_time()
    step, losses, points = _fit(engine, model, StepPlan([code], ["label"]), train, test, st, data, rng, total,
                                steps_per_epoch, average, curve, seed, on_step)
    train_time = time.time() - t0
    bn_recal(model, train, st, rng)
    record = {"arch": code, "seed": int(seed), **test_set_metrics(model, test, st, "", predictions)}
    if weights_out:
        # save() adds the .npz suffix itself
        checkpoint.save(Path(weights_out).with_suffix(""), model.get_state(),
                        {"arch": code, "seed": int(seed), "acc": record["acc"], "steps": step})
    if average is not None:
        model.set_state(average.state())
        # Its own stream: the last iterate's recalibration above used `rng` as it always has.
        bn_recal(model, train, st, np.random.default_rng([seed, 3]))
        record.update(test_set_metrics(model, test, st, "_avg", predictions))
        record["avg_steps"] = average.count
    record.update({
        "train_loss": float(np.mean(losses)), **profile.cost(code),
        "steps": step, "epochs": round(step / steps_per_epoch, 3), "backend": backend,
        "train_img_per_s": round(step * bs / train_time, 1), "wall_s": round(time.time() - t0, 1),
        "cpu_s": round(time.process_time() - c0, 1),
    })
    if on_gpu and backend == "dygraph":
        record["device"] = "gpu"
    if curve:
        record["curve"] = points
    return record


def _fit(engine, model, plan, train, test, st, data, rng, total, steps_per_epoch, average, curve, seed, on_step):
    """The training steps: (steps, the last epoch's losses, the curve's points)."""
    aug = dict(augment=st["augment"], pad=data["pad_crop"], flip=data["flip"])
    step, epoch, losses, points = 0, 0, [], []
    while step < total:
        epoch_losses = []
        for x, y in train.batches(st["batch_size"], rng, drop_last=True, **aug):
            # (the dygraph engine returns a device tensor: read here, the loss is checked each step)
            loss = float(engine.step(plan, x, y)["loss"])
            if not np.isfinite(loss):
                raise FloatingPointError(f"arch {plan.codes[0]} seed {seed}: loss became {loss} at step {step}")
            epoch_losses.append(loss)
            step += 1
            if average is not None:
                average.add(step, model)
            if on_step:
                on_step(step, total, loss)
            if step >= total:
                break
        epoch += 1
        losses = epoch_losses
        if curve:
            # Its own stream: drawing the curve's images from `rng` would change the data
            # order of every later epoch, and so the run's result.
            bn_recal(model, train, st, np.random.default_rng([seed, 2, epoch]))
            r = evaluate(model, test.batches(st["eval_batch_size"], limit=st["eval_images"]))
            points.append({"epoch": round(step / steps_per_epoch, 3), "acc": r["acc"], "loss": r["loss"],
                           "train_loss": float(np.mean(epoch_losses))})
    return step, losses, points


def _engine(backend, make_net, input_shape, st, lr_fn):
    """(engine, inference) on one network; both backends start from the weights of the
    first `make_net()` (dygraph-initialised, seeded, on the CPU whatever the device), so they
    are comparable step by step."""
    net = _initialised_on_cpu(make_net)
    task = PlainTask(make_net, input_shape, st["label_smoothing"])
    if backend == "dygraph":
        return DygraphEngine(net, task, st, lr_fn), DygraphInference(net)
    engine = StaticEngine(task, st, lr_fn, {k: v.numpy() for k, v in net.state_dict().items()})
    return engine, StaticInference(engine.runtime, make_net, input_shape)


def _initialised_on_cpu(make_net):
    """`make_net()` on the current device with the weights it gets on the CPU: a GPU draws
    initial weights from its own generator, so the same seed would start another network
    there. On the CPU this is `make_net()` itself."""
    where = paddle.device.get_device()
    if where == "cpu":
        return make_net()
    paddle.set_device("cpu")
    try:
        state = {k: v.numpy() for k, v in make_net().state_dict().items()}
    finally:
        paddle.set_device(where)
    net = make_net()
    net.set_state_dict(state)
    return net


def resolve_backend(backend: str, device: str) -> tuple:
    """(backend, device kind) of a stand-alone run for `standalone.backend` and the config's
    `device` (`runtime.device.pick_runtime`: auto = dygraph on a GPU, static on the CPU)."""
    from ..runtime.device import pick_runtime
    return pick_runtime(backend, device, "dygraph", "standalone.backend")


def test_set_metrics(model, test, st, suffix: str, predictions: bool) -> dict:
    """Plain and flip-averaged accuracy / NLL on the test images (one pass each)."""
    logits, flipped = [], []
    plain = evaluate(model, test.batches(st["eval_batch_size"], limit=st["eval_images"]), logits)
    evaluate(model, ((np.ascontiguousarray(x[..., ::-1]), y)
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

    def add(self, step: int, model):
        if step <= self.start:
            return
        state = model.get_state()
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


def bn_recal(model, train, st, rng):
    n = st["bn_recalib_images"]
    if n > 0:
        model.recalibrate_bn(x for x, _ in train.batches(st["batch_size"], rng, limit=n))
