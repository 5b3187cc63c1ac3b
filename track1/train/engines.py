"""Engines run a step plan: `dygraph` (weight slicing; any device; multi-process data
parallel) and `static` (one masked-supernet program with oneDNN; the fast CPU path).

Both keep the same state layout, keyed by the supernet's structured parameter names:
parameters, BN statistics and momentum buffers (`<name>@velocity`), so checkpoints are
engine-agnostic and never carry wrapper prefixes.
"""
from __future__ import annotations

import numpy as np
import paddle
import paddle.distributed as dist

from ..models.masked import MaskLayout, masked_forward
from ..models.supernet import SuperNet
from ..static_graph import plain_layout_hooks, set_onednn, static_mode
from .losses import pair_inputs, plan_loss

VELOCITY = "@velocity"


def _loss_args(cfg):
    return dict(cfg_train=cfg["train"], temperature=cfg["sandwich"]["temperature"])


class DygraphEngine:
    """OFA-style: the supernet slices its weights to each sub-network of the plan in turn;
    with world > 1, gradients are averaged across ranks (gloo on CPU, NCCL on GPUs)."""

    def __init__(self, net: SuperNet, cfg, lr_fn):
        self.net, self.cfg = net, cfg
        t = cfg["train"]
        self.sched = paddle.optimizer.lr.LambdaDecay(1.0, lr_fn)
        self.opt = paddle.optimizer.Momentum(self.sched, momentum=t["momentum"], use_nesterov=t["nesterov"],
                                             parameters=net.parameters(), weight_decay=t["weight_decay"] or None)
        self.world = dist.get_world_size() if dist.is_initialized() else 1
        self._names = {p.name: k for k, p in net.named_parameters()}
        self._params = [p for p in net.parameters() if not p.stop_gradient]

    def step(self, plan, x, y) -> dict:
        self.net.train()
        xt, yt = paddle.to_tensor(x), paddle.to_tensor(y)
        logits = []
        for code in plan.codes:
            self.net.set_active_subnet(code)
            logits.append(self.net(xt))
        pairs = [(i, j) for i, j, _ in plan.pairs]
        a, b = (paddle.to_tensor(v) for v in pair_inputs(plan, self.cfg["rdnas"]["margin"]))
        total, parts = plan_loss(logits, plan.roles, yt, a, b, pairs, **_loss_args(self.cfg))
        # Every parameter takes part (zero gradient if inactive), so weight decay and momentum
        # act on all weights each step, as in the static engine's single masked program.
        total = total + 0.0 * paddle.add_n([p.sum() for p in self._params])
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
        st = {k: v.numpy() for k, v in self.net.state_dict().items()}
        suffix = "_velocity_0"
        for key, val in self.opt.state_dict().items():
            if key.endswith(suffix) and key[:-len(suffix)] in self._names:
                st[self._names[key[:-len(suffix)]] + VELOCITY] = val.numpy()
        st["@lr_step"] = np.array(self.sched.last_epoch)
        return st

    def load_state(self, st: dict):
        self.net.set_state_dict({k: v for k, v in st.items() if not k.startswith("@") and VELOCITY not in k})
        # Every trainable parameter gets a velocity (zeros if it had none yet): once an
        # optimizer state is set, Paddle refuses accumulators missing from it.
        opt_state = {}
        for k, p in self.net.named_parameters():
            if not p.stop_gradient:
                v = st.get(k + VELOCITY)
                opt_state[f"{p.name}_velocity_0"] = paddle.to_tensor(v) if v is not None else paddle.zeros_like(p)
        if "@lr_step" in st:
            self.sched.last_epoch = int(st["@lr_step"])
            self.sched.last_lr = self.sched.get_lr()
        opt_state["LR_Scheduler"] = self.sched.state_dict()
        self.opt.set_state_dict(opt_state)

    def supernet(self) -> SuperNet:
        return self.net


class StaticEngine:
    """One static program per plan shape (roles, pair count), all sharing one scope: K
    masked forwards of the supernet (arch vectors fed as data), the plan's loss, Momentum.

    Costs the largest network per sub-network, but runs oneDNN kernels and two threads;
    BN running statistics are not updated by oneDNN training (re-estimated for evaluation
    and scoring, see bn.py)."""

    def __init__(self, make_net, cfg, lr_fn, state: dict, open_stages=None):
        """`open_stages`: the set of stages whose weight branches are open, shared with the
        loop's dygraph supernet (the arch vectors' branch choices follow it)."""
        set_onednn(True)
        self.open_stages = open_stages if open_stages is not None else set()
        self.cfg, self.make_net = cfg, make_net
        self.lr_fn = lr_fn
        self.scope = paddle.static.Scope()
        self.exe = paddle.static.Executor(paddle.CPUPlace())
        self.programs = {}
        self.sched = paddle.optimizer.lr.LambdaDecay(1.0, lr_fn)
        self._initial = state
        self.names = None

    def _build(self, signature):
        roles, pair_index = signature
        n_pairs = len(pair_index)
        t = self.cfg["train"]
        main, startup = paddle.static.Program(), paddle.static.Program()
        with static_mode(), paddle.utils.unique_name.guard(), paddle.static.program_guard(main, startup):
            net = self.make_net()
            net.train()
            plain_layout_hooks(net)
            layout = MaskLayout(net)
            p = net.profile
            x = paddle.static.data("x", [None, p.in_channels, p.image_size, p.image_size], "float32")
            y = paddle.static.data("y", [None], "int64")
            v = paddle.static.data("v", [len(roles), layout.size], "float32")
            pa = paddle.static.data("pair_a", [max(1, n_pairs)], "float32")
            pb = paddle.static.data("pair_b", [max(1, n_pairs)], "float32")
            logits = [masked_forward(net, x, v[k:k + 1], layout) for k in range(len(roles))]
            total, parts = plan_loss(logits, list(roles), y, pa, pb, pair_index, **_loss_args(self.cfg))
            opt = paddle.optimizer.Momentum(self.sched, momentum=t["momentum"], use_nesterov=t["nesterov"],
                                            weight_decay=t["weight_decay"] or None)
            opt.minimize(total)
            names = {k: val.name for k, val in net.state_dict().items()}
            fetch = [total] + list(parts.values())
        with static_mode(), paddle.static.scope_guard(self.scope):
            if self.names is None:
                self.exe.run(startup)
                self.names = names
                self._set(self._initial)
            elif names != self.names:
                raise RuntimeError("static programs of one supernet disagree on parameter names")
        self.programs[signature] = (main, layout, fetch, ["loss"] + list(parts))
        return self.programs[signature]

    def step(self, plan, x, y) -> dict:
        sig = plan.signature()
        main, layout, fetch, keys = self.programs.get(sig) or self._build(sig)
        layout.net.open_stages = self.open_stages
        a, b = pair_inputs(plan, self.cfg["rdnas"]["margin"])
        pad = max(1, len(a))              # a program without pairs still declares one slot
        feed = {"x": x, "y": y, "v": layout.vectors(plan.codes), "pair_a": np.resize(a, pad),
                "pair_b": np.resize(b, pad)}
        with static_mode(), paddle.static.scope_guard(self.scope):
            vals = self.exe.run(main, feed=feed, fetch_list=fetch)
        self.sched.step()
        return {k: float(v) for k, v in zip(keys, vals)}

    # ---------------------------------------------------------------- state
    def _tensor(self, name):
        var = self.scope.find_var(name)
        return var.get_tensor() if var is not None else None

    def _set(self, st):
        for k, vname in self.names.items():
            if k in st:
                self._tensor(vname).set(np.ascontiguousarray(st[k], np.float32), paddle.CPUPlace())
            t = self._tensor(f"{vname}_velocity_0")
            if t is not None and k + VELOCITY in st:
                t.set(np.ascontiguousarray(st[k + VELOCITY], np.float32), paddle.CPUPlace())

    def state(self) -> dict:
        if self.names is None:
            return dict(self._initial)
        st = {k: np.array(self._tensor(v)) for k, v in self.names.items()}
        for k, vname in self.names.items():
            t = self._tensor(f"{vname}_velocity_0")
            if t is not None and t._is_initialized():
                st[k + VELOCITY] = np.array(t)
        st["@lr_step"] = np.array(self.sched.last_epoch)
        return st

    def load_state(self, st: dict):
        self._initial = st
        if "@lr_step" in st:
            self.sched.last_epoch = int(st["@lr_step"])
            self.sched.last_lr = self.sched.get_lr()
        if self.names is not None:
            self._set(st)
