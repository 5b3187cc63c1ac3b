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

import numpy as np
import paddle
import paddle.distributed as dist
import paddle.nn.functional as F

from ..models.masked import MaskLayout, masked_forward
from ..runtime import optim
from ..runtime.static import VELOCITY, StaticRuntime, net_input, plain_layout_hooks
from .losses import pair_inputs, plan_loss


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

    def dygraph_loss(self, net, plan, xt, yt):
        return F.cross_entropy(net(xt), yt, label_smoothing=self.label_smoothing), {}


class SupernetTask:
    """The plan's sub-networks of one supernet. `open_stages`: the stages whose weight
    branches are open, a set shared with the training loop (the arch vectors' branch choices
    follow it)."""

    def __init__(self, make_net, label_smoothing: float, open_stages: set):
        self.make_net, self.label_smoothing, self.open_stages = make_net, label_smoothing, open_stages
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

    def dygraph_loss(self, net, plan, xt, yt):
        logits = []
        for code in plan.codes:
            net.set_active_subnet(code)
            logits.append(net(xt))
        pairs = [(i, j) for i, j, _ in plan.pairs]
        a, b = (paddle.to_tensor(v) for v in pair_inputs(plan))
        total, parts = plan_loss(logits, plan.roles, yt, a, b, pairs, self.label_smoothing, plan.temperature)
        # Every parameter takes part (zero gradient if inactive), so weight decay and momentum
        # act on all weights each step, as in the static engine's single masked program.
        total = total + 0.0 * paddle.add_n([p.sum() for p in net.parameters() if not p.stop_gradient])
        return total, parts


class DygraphEngine:
    """Dygraph steps on `net`; with world > 1, gradients are averaged across ranks (gloo on
    CPU, NCCL on GPUs). `settings`: a section with momentum, nesterov, weight_decay."""

    def __init__(self, net, task, settings, lr_fn):
        self.net, self.task = net, task
        self.sched = optim.schedule(lr_fn)
        self.opt = optim.momentum(self.sched, settings, net.parameters())
        self.world = dist.get_world_size() if dist.is_initialized() else 1
        self._names = {p.name: k for k, p in net.named_parameters()}

    def step(self, plan, x, y) -> dict:
        self.net.train()
        total, parts = self.task.dygraph_loss(self.net, plan, paddle.to_tensor(x), paddle.to_tensor(y))
        total.backward()
        if self.world > 1:
            self._average_grads()
        self.opt.step()
        self.opt.clear_grad()
        self.sched.step()
        return {"loss": float(total), **{k: float(v) for k, v in parts.items()}}

    def sync_buffers(self):
        """Average BN running statistics over ranks (each saw only its shard of the data)."""
        if self.world > 1:
            # (Paddle keeps BN statistics as non-trainable parameters, not buffers.)
            for b in [p for p in self.net.parameters() if p.stop_gradient] + list(self.net.buffers()):
                t = b.clone()
                dist.all_reduce(t)
                b.set_value(t / self.world)

    def _average_grads(self):
        params = [p for p in self.net.parameters() if p.grad is not None]
        flat = paddle.concat([p.grad.reshape([-1]) for p in params])
        dist.all_reduce(flat)
        flat = flat / self.world
        off = 0
        for p in params:
            n = int(np.prod(p.shape))
            p.grad.set_value(flat[off:off + n].reshape(p.shape))
            off += n

    def state(self) -> dict:
        state = {k: v.numpy() for k, v in self.net.state_dict().items()}
        suffix = "_velocity_0"
        for key, val in self.opt.state_dict().items():
            if key.endswith(suffix) and key[:-len(suffix)] in self._names:
                state[self._names[key[:-len(suffix)]] + VELOCITY] = val.numpy()
        state["@lr_step"] = np.array(self.sched.last_epoch)
        return state

    def load_state(self, state: dict):
        self.net.set_state_dict({k: v for k, v in state.items() if not k.startswith("@") and VELOCITY not in k})
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
