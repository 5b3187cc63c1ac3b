"""Static-graph (PIR) programs with oneDNN: the fast CPU path for training and evaluation.

Measured traps of Paddle 3.3.1 on CPU, and what this module does about each:
- dygraph never calls oneDNN kernels: training runs as a static program with oneDNN on;
- oneDNN conv backward hands BN/ReLU another memory layout and they fall back to slow
  reference kernels: every conv's input and output pass through `paddle.assign`
  (forward hooks), which forces the plain layout (about 2x faster training);
- BN running statistics are never updated in oneDNN training: they are re-estimated
  after training with a separate statistics program (see bn.py);
- fetched activations of a training program can be overwritten by its backward pass:
  the training program fetches the loss only; logits come from a separate eval program;
- `Program.clone(for_test=True)` rejects PIR programs: the eval and statistics programs
  are rebuilt from the same builder under `unique_name.guard()`, so their parameters
  have the same names and share one scope with the training program.
"""
from __future__ import annotations

import contextlib

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .bn import StatsAverager, StatsRecorder


def set_onednn(on: bool = True):
    paddle.set_flags({"FLAGS_use_mkldnn": bool(on)})


def plain_layout_hooks(net: nn.Layer) -> list:
    handles = []
    for layer in net.sublayers():
        if isinstance(layer, nn.Conv2D):
            handles.append(layer.register_forward_pre_hook(lambda l, inp: (paddle.assign(inp[0]),)))
            handles.append(layer.register_forward_post_hook(lambda l, inp, out: paddle.assign(out)))
    return handles


@contextlib.contextmanager
def static_mode():
    """Static mode for the block, restoring dygraph afterwards (tools mostly run dygraph)."""
    was_dynamic = paddle.in_dynamic_mode()
    paddle.enable_static()
    try:
        yield
    finally:
        if was_dynamic:
            paddle.disable_static()


class StaticClassifier:
    """Train / eval / BN-statistics programs of one network, sharing one private scope.

    `make_net()` must build the same layers in the same order on every call. Inputs: `x`
    (float32 NCHW) and, for training, `y` (int64). Use inside `static_mode()`.
    """

    def __init__(self, make_net, input_shape, lr_fn=None, momentum=0.9, nesterov=False,
                 weight_decay=0.0, label_smoothing=0.0, onednn=True, layout_fix=True):
        set_onednn(onednn)
        self.scope = paddle.static.Scope()
        self.exe = paddle.static.Executor(paddle.CPUPlace())
        self.input_shape = list(input_shape)
        self._layout_fix = layout_fix and onednn
        self.train_prog = self.sched = None
        startup = paddle.static.Program()
        if lr_fn is not None:
            self.train_prog = paddle.static.Program()
            with paddle.utils.unique_name.guard(), paddle.static.program_guard(self.train_prog, startup):
                net, x = self._net_and_input(make_net, train=True)
                y = paddle.static.data("y", [None], "int64")
                self.loss = F.cross_entropy(net(x), y, label_smoothing=label_smoothing)
                self.sched = paddle.optimizer.lr.LambdaDecay(1.0, lr_fn)
                opt = paddle.optimizer.Momentum(self.sched, momentum=momentum, use_nesterov=nesterov,
                                                weight_decay=weight_decay or None)
                opt.minimize(self.loss)
            self.names = {k: v.name for k, v in net.state_dict().items()}
        self.eval_prog = paddle.static.Program()
        with paddle.utils.unique_name.guard(), paddle.static.program_guard(self.eval_prog, startup):
            net, x = self._net_and_input(make_net, train=False)
            self.logits = net(x)
            names = {k: v.name for k, v in net.state_dict().items()}
        if self.train_prog is None:
            self.names = names
        elif names != self.names:
            raise RuntimeError("eval program's parameter names differ from the training program's")
        self.stats_prog = paddle.static.Program()
        with paddle.utils.unique_name.guard(), paddle.static.program_guard(self.stats_prog, startup):
            net, x = self._net_and_input(make_net, train=True)
            rec = StatsRecorder(net)
            net(x)
            self.stat_names = list(rec.values)
            self.stat_fetch = [t for k in self.stat_names for t in rec.values[k]]
        with paddle.static.scope_guard(self.scope):
            self.exe.run(startup)

    def _net_and_input(self, make_net, train):
        net = make_net()
        net.train() if train else net.eval()
        if self._layout_fix:
            plain_layout_hooks(net)
        x = paddle.static.data("x", [None] + self.input_shape[1:], "float32")
        return net, x

    # ------------------------------------------------------------------ state
    def _tensor(self, key):
        return self.scope.find_var(self.names[key]).get_tensor()

    def get_state(self) -> dict:
        return {k: np.array(self._tensor(k)) for k in self.names}

    def set_state(self, state: dict):
        missing = set(self.names) - set(state)
        if missing:
            raise KeyError(f"state lacks {sorted(missing)[:3]}")
        for k in self.names:
            self._tensor(k).set(np.ascontiguousarray(state[k], dtype=np.float32), paddle.CPUPlace())

    # ------------------------------------------------------------------ running
    def train_step(self, x, y) -> float:
        with paddle.static.scope_guard(self.scope):
            loss, = self.exe.run(self.train_prog, feed={"x": x, "y": y}, fetch_list=[self.loss])
        self.sched.step()
        return float(loss)

    def predict(self, x) -> np.ndarray:
        with paddle.static.scope_guard(self.scope):
            out, = self.exe.run(self.eval_prog, feed={"x": x}, fetch_list=[self.logits])
        return out

    def recalibrate_bn(self, batches) -> int:
        avg = StatsAverager()
        with paddle.static.scope_guard(self.scope):
            for x in batches:
                vals = self.exe.run(self.stats_prog, feed={"x": x}, fetch_list=self.stat_fetch)
                avg.add({k: (vals[2 * i], vals[2 * i + 1]) for i, k in enumerate(self.stat_names)}, len(x))
        for name, (m, v) in avg.result().items():
            self._tensor(f"{name}._mean").set(m.astype(np.float32), paddle.CPUPlace())
            self._tensor(f"{name}._variance").set(v.astype(np.float32), paddle.CPUPlace())
        return avg.count
