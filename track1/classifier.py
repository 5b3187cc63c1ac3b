"""One training/eval interface over the two backends: static graph + oneDNN, and dygraph.

Both start from the same dygraph-initialised weights, so the backends are comparable step
by step (tests check their losses agree) and the seed fixes the initialisation either way.
"""
from __future__ import annotations

import numpy as np
import paddle
import paddle.nn.functional as F

from .bn import recalibrate
from .static_graph import StaticClassifier, static_mode


class DygraphClassifier:
    def __init__(self, net, lr_fn, momentum=0.9, nesterov=False, weight_decay=0.0, label_smoothing=0.0):
        self.net = net
        self.sched = paddle.optimizer.lr.LambdaDecay(1.0, lr_fn) if lr_fn else None
        self.opt = paddle.optimizer.Momentum(self.sched, momentum=momentum, use_nesterov=nesterov,
                                             parameters=net.parameters(),
                                             weight_decay=weight_decay or None) if lr_fn else None
        self.label_smoothing = label_smoothing

    def train_step(self, x, y) -> float:
        self.net.train()
        loss = F.cross_entropy(self.net(paddle.to_tensor(x)), paddle.to_tensor(y),
                               label_smoothing=self.label_smoothing)
        loss.backward()
        self.opt.step()
        self.opt.clear_grad()
        self.sched.step()
        return float(loss)

    @paddle.no_grad()
    def predict(self, x) -> np.ndarray:
        self.net.eval()
        return self.net(paddle.to_tensor(x)).numpy()

    def recalibrate_bn(self, batches) -> int:
        return recalibrate(self.net, batches)

    def get_state(self) -> dict:
        return {k: v.numpy() for k, v in self.net.state_dict().items()}

    def set_state(self, state: dict):
        self.net.set_state_dict({k: paddle.to_tensor(np.asarray(v, np.float32)) for k, v in state.items()})

    def close(self):
        pass


class StaticBackend:
    """StaticClassifier kept in static mode only while it runs, so callers stay in dygraph."""

    def __init__(self, make_net, state, input_shape, **kw):
        with static_mode():
            self.clf = StaticClassifier(make_net, input_shape, **kw)
            self.clf.set_state(state)

    def train_step(self, x, y):
        with static_mode():
            return self.clf.train_step(x, y)

    def predict(self, x):
        with static_mode():
            return self.clf.predict(x)

    def recalibrate_bn(self, batches):
        with static_mode():
            return self.clf.recalibrate_bn(batches)

    def get_state(self):
        return self.clf.get_state()

    def set_state(self, state):
        with static_mode():
            self.clf.set_state(state)

    def close(self):
        pass


def make_classifier(backend: str, make_net, input_shape, lr_fn=None, **kw):
    """`make_net()` builds the (dygraph-initialised, seeded) network; both backends start
    from the weights of its first call."""
    net = make_net()
    if backend == "dygraph":
        return DygraphClassifier(net, lr_fn, **kw)
    state = {k: v.numpy() for k, v in net.state_dict().items()}
    return StaticBackend(make_net, state, input_shape, lr_fn=lr_fn, **kw)


def evaluate(clf, batches, keep: list | None = None) -> dict:
    """Top-1 accuracy and mean cross-entropy (no label smoothing) over (x, y) batches.
    `keep`, a list, receives each batch's float64 logits (per-image outputs, TTA)."""
    correct = total = 0
    loss_sum = 0.0
    for x, y in batches:
        logits = clf.predict(x).astype(np.float64)
        if keep is not None:
            keep.append(logits)
        correct += int((logits.argmax(1) == y).sum())
        z = logits - logits.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        loss_sum += float(-logp[np.arange(len(y)), y].sum())
        total += len(y)
    if total == 0:
        raise ValueError("evaluate: no images to evaluate on")
    return {"acc": correct / total, "loss": loss_sum / total, "n": total}
