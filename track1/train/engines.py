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
from .losses import plan_loss

VELOCITY = "@velocity"


def _loss_args(cfg):
    t = cfg["train"]
    return dict(cfg_train=t, temperature=cfg["sandwich"]["temperature"], margin=cfg["rdnas"]["margin"])


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

    def step(self, plan, x, y) -> dict:
        self.net.train()
        xt, yt = paddle.to_tensor(x), paddle.to_tensor(y)
        logits = []
        for code in plan.codes:
            self.net.set_active_subnet(code)
            logits.append(self.net(xt))
        pairs = [(i, j) for i, j, _ in plan.pairs]
        signs = paddle.to_tensor(np.array([s for *_, s in plan.pairs], np.float32)) if pairs else None
        total, parts = plan_loss(logits, plan.roles, yt, signs, pairs, plan.rank_weight, **_loss_args(self.cfg))
        total.backward()
        if self.world > 1:
            self._average_grads()
        self.opt.step()
        self.opt.clear_grad()
        self.sched.step()
        return {"loss": float(total), **{k: float(v) for k, v in parts.items()}}

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
        by_key = {k: p.name for k, p in self.net.named_parameters()}
        opt_state = {f"{by_key[k[:-len(VELOCITY)]]}_velocity_0": paddle.to_tensor(v)
                     for k, v in st.items() if k.endswith(VELOCITY)}
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

    def __init__(self, make_net, cfg, lr_fn, state: dict):
        set_onednn(True)
        self.cfg, self.make_net = cfg, make_net
        self.lr_fn = lr_fn
        self.scope = paddle.static.Scope()
        self.exe = paddle.static.Executor(paddle.CPUPlace())
        self.programs = {}
        self.sched = paddle.optimizer.lr.LambdaDecay(1.0, lr_fn)
        self._initial = state
        self.names = None

    def _build(self, signature):
        roles, n_pairs = signature
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
            signs = paddle.static.data("signs", [max(1, n_pairs)], "float32")
            rw = paddle.static.data("rank_weight", [1], "float32")
            logits = [masked_forward(net, x, v[k:k + 1], layout) for k in range(len(roles))]
            pair_index = [(i, j) for i in range(len(roles)) for j in range(i + 1, len(roles))][:n_pairs]
            total, parts = plan_loss(logits, list(roles), y, signs, pair_index, rw, **_loss_args(self.cfg))
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
        self.programs[signature] = (main, layout, fetch, ["loss"] + list(parts), pair_index)
        return self.programs[signature]

    def step(self, plan, x, y) -> dict:
        sig = plan.signature()
        main, layout, fetch, keys, pair_index = self.programs.get(sig) or self._build(sig)
        # the static pair slots are (i, j) in order; the plan's pairs fill them in the same order
        want = [(i, j) for i, j, _ in plan.pairs]
        if want != pair_index[:len(want)]:
            raise RuntimeError("plan pairs must list (i, j) in lexicographic order")
        signs = np.zeros(max(1, len(pair_index)), np.float32)
        signs[:len(plan.pairs)] = [s for *_, s in plan.pairs]
        feed = {"x": x, "y": y, "v": layout.vectors(plan.codes), "signs": signs,
                "rank_weight": np.array([plan.rank_weight], np.float32)}
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
