"""The one static-program runtime (PIR programs + Executor, oneDNN on CPU).

Why static programs: dygraph never calls oneDNN kernels, and a static program with oneDNN
trains about 2-3x faster on CPU. Training, stand-alone training and scoring all run their
programs through `StaticRuntime`, so each Paddle 3.3.1 trap is handled here once:
- oneDNN conv backward hands BN/ReLU another memory layout and they fall back to slow
  reference kernels: every conv's input and output pass through `paddle.assign` (forward
  hooks), which forces the plain layout (about 2x faster training);
- BN running statistics are never updated in oneDNN training: they are re-estimated with a
  statistics program (`bn_stats_program`, see bn.py);
- fetched activations of a training program can be overwritten by its backward pass:
  training programs fetch losses only; logits come from a separate eval program;
- `Program.clone(for_test=True)` rejects PIR programs: every program is rebuilt from the
  same network builder under `unique_name.guard()`, so all programs of one runtime name
  their parameters alike and share one private scope;
- a program's first run prints a leftover debug line (`ReduceMeanCheckIfOneDNNSupport`,
  once per mean op) to fd 1 from C++, which no flag or log level reaches: fd 1 points at
  /dev/null during first runs (track1's own output is flushed first and never written then).
"""
from __future__ import annotations

import contextlib
import os
import sys

import numpy as np
import paddle
import paddle.nn as nn

from ..bn import StatsAverager, StatsRecorder

VELOCITY = "@velocity"           # state key suffix of a parameter's momentum buffer


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
    """Static mode for the block, restoring dygraph afterwards (the rest of track1 runs dygraph)."""
    was_dynamic = paddle.in_dynamic_mode()
    paddle.enable_static()
    try:
        yield
    finally:
        if was_dynamic:
            paddle.disable_static()


@contextlib.contextmanager
def _stdout_silenced():
    sys.stdout.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def weights_only(state: dict) -> dict:
    """A network's own tensors of an engine state (no optimizer buffers, no bookkeeping)."""
    return {k: v for k, v in state.items() if "@" not in k}


class StaticRuntime:
    """Programs of one network family in one private scope, its state keyed by the
    network's structured parameter names (the keys of `state_dict()`), never by Paddle's
    generated variable names.

    `program(key, build)` builds a program on first use: `build()` runs inside the program
    guard and returns `(net, outputs)`; `outputs` is what `run` fetches. The first program's
    startup initialises the scope, and `initial_state` then overwrites every tensor it names;
    later programs must name their parameters alike (checked)."""

    def __init__(self, initial_state: dict, onednn: bool = True, place=None):
        set_onednn(onednn)
        self.scope = paddle.static.Scope()
        self.place = place or paddle.CPUPlace()
        self.exe = paddle.static.Executor(self.place)
        self.names = None               # structured name -> variable name
        self._initial = initial_state
        self._programs = {}
        self._ran = set()

    def program(self, key, build):
        if key not in self._programs:
            main, startup = paddle.static.Program(), paddle.static.Program()
            with static_mode(), paddle.utils.unique_name.guard(), paddle.static.program_guard(main, startup):
                net, outputs = build()
                names = {k: v.name for k, v in net.state_dict().items()}
            if self.names is None:
                with static_mode(), paddle.static.scope_guard(self.scope):
                    self.exe.run(startup)
                self.names = names
                self.set_state(self._initial)
                self._initial = None
            elif names != self.names:
                raise RuntimeError(f"static program {key!r} names its parameters unlike the runtime's first program")
            self._programs[key] = (main, outputs)
        return self._programs[key]

    def run(self, key, build, feed: dict) -> list:
        main, outputs = self.program(key, build)
        quiet = _stdout_silenced() if key not in self._ran else contextlib.nullcontext()
        with quiet, static_mode(), paddle.static.scope_guard(self.scope):
            out = self.exe.run(main, feed=feed, fetch_list=list(outputs))
        self._ran.add(key)
        return out

    # ------------------------------------------------------------------ state
    def _tensor(self, var_name):
        var = self.scope.find_var(var_name)
        return var.get_tensor() if var is not None else None

    def get_state(self, velocity: bool = False) -> dict:
        """Every tensor of the network by structured name (+ `<name>@velocity` buffers)."""
        if self.names is None:
            return dict(self._initial)
        state = {k: np.array(self._tensor(v)) for k, v in self.names.items()}
        if velocity:
            for k, vname in self.names.items():
                t = self._tensor(f"{vname}_velocity_0")
                if t is not None and t._is_initialized():
                    state[k + VELOCITY] = np.array(t)
        return state

    def set_state(self, state: dict, strict: bool = False):
        """Set the tensors `state` names (and their velocity buffers where the scope has
        them). `strict`: every network tensor must be given."""
        if self.names is None:
            self._initial = {**(self._initial or {}), **state}
            return
        if strict:
            missing = set(self.names) - set(state)
            if missing:
                raise KeyError(f"state lacks {sorted(missing)[:3]}")
        for k, vname in self.names.items():
            if k in state:
                self._tensor(vname).set(np.ascontiguousarray(state[k], np.float32), self.place)
            t = self._tensor(f"{vname}_velocity_0")
            if t is not None and k + VELOCITY in state:
                t.set(np.ascontiguousarray(state[k + VELOCITY], np.float32), self.place)

    def set_stats(self, stats: dict):
        """BN running statistics {bn layer name: (mean, var)}."""
        for name, (m, v) in stats.items():
            self._tensor(self.names[f"{name}._mean"]).set(m.astype(np.float32), self.place)
            self._tensor(self.names[f"{name}._variance"]).set(v.astype(np.float32), self.place)


def net_input(shape, name: str = "x"):
    """The image input of a program: [None, C, H, W] float32."""
    return paddle.static.data(name, [None] + list(shape[1:]), "float32")


def bn_stats_program(make_net, input_shape, layout_fix: bool = True):
    """A builder of the statistics program: the train-mode net whose fetches are each BN
    input's batch mean and variance, in `names` order (see `recalibrate_static`)."""
    names = []

    def build():
        net = make_net()
        net.train()
        if layout_fix:
            plain_layout_hooks(net)
        x = net_input(input_shape)
        rec = StatsRecorder(net)
        net(x)
        names[:] = list(rec.values)
        return net, [t for k in names for t in rec.values[k]]
    return build, names


def recalibrate_static(runtime: StaticRuntime, key, build, names: list, batches) -> int:
    """Re-estimate BN running statistics from `batches` with the statistics program."""
    avg = StatsAverager()
    for x in batches:
        vals = runtime.run(key, build, {"x": x})
        avg.add({k: (vals[2 * i], vals[2 * i + 1]) for i, k in enumerate(names)}, len(x))
    runtime.set_stats(avg.result())
    return avg.count
