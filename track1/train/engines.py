"""Engines run step plans: `StaticEngine` (static programs with oneDNN, the fast CPU path) and
`DygraphEngine` (any device; multi-process data parallel). What a step computes is the task's:
- `SupernetTask`: the plan's sub-networks of one supernet (masked forwards in a static
  program, weight slicing in dygraph) and the plan's loss (labels, distillation, ranking);
- `PlainTask`: one fixed network (the stand-alone code of a ground-truth run), label loss.
Supernet training and stand-alone training are thus one stack: the same engines, optimiser
and schedule, and one state layout keyed by the network's structured parameter names
(weights, BN statistics, `<name>@velocity` momentum buffers, `@lr_step`), so checkpoints are
engine-agnostic and never carry wrapper prefixes.
"""
from __future__ import annotations

import contextlib

import numpy as np
import paddle
import paddle.distributed as dist
import paddle.nn.functional as F

from ..models.masked import MaskLayout, masked_forward
from ..runtime import optim
from ..runtime.static import VELOCITY, StaticRuntime, net_input, plain_layout_hooks
from .losses import ce, distill, pair_inputs, plan_loss


class PlainTask:
    """One network trained on its labels; every plan must name that network's code."""

    def __init__(self, make_net, input_shape, label_smoothing: float):
        self.make_net, self.input_shape, self.label_smoothing = make_net, list(input_shape), label_smoothing

    def signature(self, plan):
        return ()

    def build(self, signature, optimize):
        net = self.make_net()
        net.train()
        plain_layout_hooks(net)
        x = net_input(self.input_shape)
        y = paddle.static.data("y", [None], "int64")
        loss = F.cross_entropy(net(x), y, label_smoothing=self.label_smoothing)
        optimize(loss)
        return net, [loss], ["loss"]

    def feed(self, signature, plan, x, y) -> dict:
        return {"x": x, "y": y}

    def pieces(self, plan, per_subnet: bool = False) -> list:
        """The step's loss as pieces to backward one after the other: here one."""
        code = plan.codes[0]
        return [lambda forward, y: (F.cross_entropy(forward(code, True), y, label_smoothing=self.label_smoothing), {})]


class SupernetTask:
    """The plan's sub-networks of one supernet. `open_stages`: the stages whose weight
    branches are open, a set shared with the training loop (the arch vectors' branch choices
    follow it)."""

    def __init__(self, make_net, label_smoothing: float, open_stages: set, frozen_teacher=None):
        """`frozen_teacher`: a network whose logits teach the distilled sub-networks instead
        of the step's first one (dygraph only: the pretrained largest network, frozen)."""
        self.make_net, self.label_smoothing, self.open_stages = make_net, label_smoothing, open_stages
        self.frozen_teacher = frozen_teacher
        self._layouts = {}

    def signature(self, plan):
        return plan.signature()

    def build(self, signature, optimize):
        roles, pair_index, temperature = signature
        net = self.make_net()
        net.train()
        plain_layout_hooks(net)
        layout = self._layouts[signature] = MaskLayout(net)
        p = net.profile
        x = net_input(p.input_shape())
        y = paddle.static.data("y", [None], "int64")
        v = paddle.static.data("v", [len(roles), layout.size], "float32")
        pa = paddle.static.data("pair_a", [max(1, len(pair_index))], "float32")
        pb = paddle.static.data("pair_b", [max(1, len(pair_index))], "float32")
        logits = [masked_forward(net, x, v[k:k + 1], layout) for k in range(len(roles))]
        total, parts = plan_loss(logits, list(roles), y, pa, pb, pair_index, self.label_smoothing, temperature)
        optimize(total)
        return net, [total] + list(parts.values()), ["loss"] + list(parts)

    def feed(self, signature, plan, x, y) -> dict:
        layout = self._layouts[signature]
        layout.net.open_stages = self.open_stages
        a, b = pair_inputs(plan)
        pad = max(1, len(a))              # a program without pairs still declares one slot
        return {"x": x, "y": y, "v": layout.vectors(plan.codes), "pair_a": np.resize(a, pad),
                "pair_b": np.resize(b, pad)}

    def pieces(self, plan, per_subnet: bool = False) -> list:
        """The step's loss as pieces to backward one after the other, each
        `compute(forward, y) -> (loss, parts)` with `forward(code, last)` the engine's forward
        (`last`: the piece's final forward, the one a data-parallel wrapper must see). Joint:
        one piece, all sub-networks, one backward (what ranking pairs need: their loss couples
        sub-networks). Per sub-network: the teacher's piece first, then each student's
        against the teacher's detached logits, so only one sub-network's activations are
        alive at a time; the gradients sum to the joint ones."""
        if not per_subnet or plan.pairs or len(plan.codes) == 1:
            return [lambda forward, y: self._joint(forward, plan, y)]
        kept = {}

        def teacher(forward, y):
            lg = forward(plan.codes[0], True)
            frozen = self._frozen_logits(forward)
            kept["logits"] = lg.detach() if frozen is None else frozen
            loss = ce(lg, y, label_smoothing=self.label_smoothing)
            return loss, {"label0": loss}

        def student(k):
            def compute(forward, y):
                lg = forward(plan.codes[k], True)
                loss = distill(lg, kept["logits"], plan.temperature)
                return loss, {f"{plan.roles[k]}{k}": loss}
            return compute
        return [teacher] + [student(k) for k in range(1, len(plan.codes))]

    def _joint(self, forward, plan, y):
        logits = [forward(code, k == len(plan.codes) - 1) for k, code in enumerate(plan.codes)]
        pairs = [(i, j) for i, j, _ in plan.pairs]
        a, b = (paddle.to_tensor(v) for v in pair_inputs(plan))
        total, parts = plan_loss(logits, plan.roles, y, a, b, pairs, self.label_smoothing, plan.temperature,
                                 self._frozen_logits(forward))
        return total, parts

    def _frozen_logits(self, forward):
        if self.frozen_teacher is None:
            return None
        with paddle.no_grad():
            self.frozen_teacher.eval()
            return forward.plain(self.frozen_teacher).detach()


def _zero_on_every_parameter(net):
    # Every parameter takes part (zero gradient if inactive), so weight decay and momentum
    # act on all weights each step, as in the static engine's single masked program.
    return 0.0 * paddle.add_n([p.sum() for p in net.parameters() if not p.stop_gradient])


class _EveryParameter(paddle.nn.Layer):
    """Under paddle.DataParallel, the supernet with that zero term inside its forward: the
    reducer then finds every parameter used where it looks for them (the forward's outputs),
    instead of seeing a gradient arrive for one it had marked unused. (In one process the
    term joins the step's last loss, as the baseline did, keeping its results bit for bit.)"""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x) + _zero_on_every_parameter(self.net)


class DygraphEngine:
    """Dygraph steps on `net`, on whatever device Paddle runs on. `settings`: a section with
    momentum, nesterov, weight_decay and optionally
    - `amp`: fp32 | fp16 | bf16, the forward under paddle.amp.auto_cast (O1) and, for fp16,
      a GradScaler (Paddle 3.3.1's auto_cast has no effect on CPU: float32 there);
    - `backward`: joint (one backward over the step's sub-networks) | per_subnet (one per
      sub-network where the plan's losses allow it: activation memory of one, not K);
    - `accumulate`: micro-batches per optimizer step (each the batch's share, its loss / k).
    With world > 1 the net runs under paddle.DataParallel: its gradient all-reduce overlaps
    the final backward of a step; earlier pieces and micro-batches accumulate under no_sync.
    `step` returns the loss parts as device tensors: the loop reads them every log_every
    steps, not every step."""

    def __init__(self, net, task, settings, lr_fn):
        self.net, self.task = net, task
        self.sched = optim.schedule(lr_fn)
        self.opt = optim.momentum(self.sched, settings, net.parameters())
        self.world = dist.get_world_size() if dist.is_initialized() else 1
        self._names = {p.name: k for k, p in net.named_parameters()}
        self.amp = settings.get("amp", "fp32")
        self.per_subnet = settings.get("backward", "joint") == "per_subnet"
        self.accumulate = int(settings.get("accumulate", 1))
        self.scaler = paddle.amp.GradScaler(init_loss_scaling=2.0 ** 15) if self.amp == "fp16" else None
        if self.amp != "fp32" and not paddle.device.get_device().startswith("gpu"):
            print(f"note: train.amp={self.amp} has no effect on {paddle.device.get_device()} (Paddle 3.3.1 casts on "
                  "GPUs only): training in float32", flush=True)
        self.supernet = hasattr(net, "set_active_subnet")   # (a stand-alone net uses every weight)
        self.wrapper = None
        if self.world > 1:
            self.wrapper = paddle.DataParallel(_EveryParameter(net) if self.supernet else net)

    def _forward(self, x):
        def forward(code, last):
            if hasattr(self.net, "set_active_subnet"):      # a supernet (a stand-alone net is its code)
                self.net.set_active_subnet(code)
            return run(self.wrapper if (last and self.wrapper is not None) else self.net)

        def run(model):
            if self.amp == "fp32":
                return model(x)
            with paddle.amp.auto_cast(dtype="float16" if self.amp == "fp16" else "bfloat16", level="O1"):
                return model(x).astype("float32")
        forward.plain = run
        return forward

    def step(self, plan, x, y) -> dict:
        self.net.train()
        k = self.accumulate
        sums = {}
        for m in range(k):
            lo, hi = len(x) * m // k, len(x) * (m + 1) // k
            # A loader that delivered to the device gives tensors: sliced there, not re-uploaded.
            xt, yt = (v[lo:hi] if isinstance(v, paddle.Tensor) else paddle.to_tensor(v[lo:hi]) for v in (x, y))
            forward = self._forward(xt)
            pieces = self.task.pieces(plan, self.per_subnet)
            for p, compute in enumerate(pieces):
                final = m == k - 1 and p == len(pieces) - 1
                with self.wrapper.no_sync() if (self.wrapper is not None and not final) else contextlib.nullcontext():
                    loss, parts = compute(forward, yt)
                    if final and self.supernet and self.wrapper is None:
                        loss = loss + _zero_on_every_parameter(self.net)
                    self._backward(loss if k == 1 else loss / k)
                for name, v in (("loss", loss), *parts.items()):
                    v = v.detach()
                    sums[name] = sums[name] + v if name in sums else v
        self._optimizer_step()
        return {name: v if k == 1 else v / k for name, v in sums.items()}

    def _backward(self, loss):
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def _optimizer_step(self):
        if self.scaler is not None:
            self.scaler.step(self.opt)            # unscales; skips the step on inf/nan gradients
            self.scaler.update()
        else:
            self.opt.step()
        self.opt.clear_grad()
        self.sched.step()

    def sync_buffers(self):
        """Average BN running statistics over ranks (each saw only its shard of the data)."""
        if self.world > 1:
            # (Paddle keeps BN statistics as non-trainable parameters, not buffers.)
            for b in [p for p in self.net.parameters() if p.stop_gradient] + list(self.net.buffers()):
                t = b.clone()
                dist.all_reduce(t)
                b.set_value(t / self.world)

    def state(self) -> dict:
        state = {k: v.numpy() for k, v in self.net.state_dict().items()}
        suffix = "_velocity_0"
        for key, val in self.opt.state_dict().items():
            if key.endswith(suffix) and key[:-len(suffix)] in self._names:
                state[self._names[key[:-len(suffix)]] + VELOCITY] = val.numpy()
        state["@lr_step"] = np.array(self.sched.last_epoch)
        if self.scaler is not None:
            state.update(scaler_arrays(self.scaler.state_dict()))
        return state

    def load_state(self, state: dict):
        self.net.set_state_dict({k: v for k, v in state.items() if not k.startswith("@") and VELOCITY not in k})
        if self.scaler is not None and any(k.startswith(AMP) for k in state):
            self.scaler.load_state_dict(scaler_state(state))
        # Every trainable parameter gets a velocity (zeros if it had none yet): once an
        # optimizer state is set, Paddle refuses accumulators missing from it.
        opt_state = {}
        for k, p in self.net.named_parameters():
            if not p.stop_gradient:
                v = state.get(k + VELOCITY)
                opt_state[f"{p.name}_velocity_0"] = paddle.to_tensor(v) if v is not None else paddle.zeros_like(p)
        _set_lr_step(self.sched, state)
        opt_state["LR_Scheduler"] = self.sched.state_dict()
        self.opt.set_state_dict(opt_state)


AMP = "@amp_"


def scaler_arrays(state: dict) -> dict:
    """A GradScaler's state as checkpoint arrays: a resumed fp16 run keeps its loss scale and
    the counters that grow or shrink it, instead of starting again from 2**15 and skipping the
    steps that overflow while it shrinks. (A disabled scaler, as on the CPU, has no state.)"""
    return {AMP + k: np.asarray(v) for k, v in state.items()}


def scaler_state(arrays: dict) -> dict:
    """The inverse of scaler_arrays: `scale` stays an array, the rest become Python scalars."""
    return {k[len(AMP):]: (v if k == AMP + "scale" else v.item()) for k, v in arrays.items() if k.startswith(AMP)}


class StaticEngine:
    """One static program per plan signature, all in one runtime (one scope): the task's
    forward and loss, and Momentum. For a supernet, the largest network's cost per
    sub-network, but oneDNN kernels; BN running statistics are not updated by oneDNN
    training (re-estimated for evaluation and scoring, see bn.py)."""

    def __init__(self, task, settings, lr_fn, state: dict, onednn: bool = True):
        self.task, self.settings = task, settings
        self.sched = optim.schedule(lr_fn)
        self.runtime = StaticRuntime(state, onednn)
        self._keys = {}

    def _builder(self, sig):
        def build():
            net, fetch, keys = self.task.build(sig, self._optimize)
            self._keys[sig] = keys
            return net, fetch
        return build

    def _optimize(self, loss):
        optim.momentum(self.sched, self.settings).minimize(loss)

    def step(self, plan, x, y) -> dict:
        sig = self.task.signature(plan)
        build = self._builder(sig)
        self.runtime.program(("train", sig), build)
        vals = self.runtime.run(("train", sig), build, self.task.feed(sig, plan, x, y))
        self.sched.step()
        return {k: float(v) for k, v in zip(self._keys[sig], vals)}

    def state(self) -> dict:
        state = self.runtime.get_state(velocity=True)
        state["@lr_step"] = np.array(self.sched.last_epoch)
        return state

    def load_state(self, state: dict):
        _set_lr_step(self.sched, state)
        self.runtime.set_state(state)


def _set_lr_step(sched, state):
    if "@lr_step" in state:
        sched.last_epoch = int(state["@lr_step"])
        sched.last_lr = sched.get_lr()
