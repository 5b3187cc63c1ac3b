"""The fast scorer: grouped masked-supernet programs under oneDNN, with a shared prefix.

Two static programs share the supernet's weights: A runs the stem and stage 1 of one
candidate prefix (stem width, stage-1 depth and widths: only about 1,100 distinct ones
among the 45,000 official candidates, and stage 1 is about half of a network's MACs), B
runs stages 2-4 and the head of `group` candidates at once, each on the cached stage-1
features of its prefix. Candidates are scored in prefix order, so each prefix is computed
once. BN uses per-group statistics (group_bn) or the supernet's running statistics, so a
candidate's score does not depend on which others share its run.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import paddle

from ..models.masked import MaskLayout, masked_forward
from ..static_graph import plain_layout_hooks, set_onednn, static_mode
from .common import group_bn, metric


def prefix_key(code: str) -> str:
    """The part of a code that decides the stem and stage 1: stage-1 depth, stem, stage-1 blocks."""
    c = code[-51:]
    return c[0] + c[4] + c[5:15]


class FastScorer:
    def __init__(self, make_net, state: dict, open_stages, images: dict, settings: dict, onednn=True):
        self.settings, self.images = settings, images
        mode = settings["bn"]
        self.stats_rows = len(images["x_recal"]) if mode == "recal" else len(images["x"])
        x = images["x"] if mode != "recal" else np.concatenate([images["x_recal"], images["x"]])
        self.x, self.rows, self.G = x, len(x), settings["group"]
        self.share = settings["share_prefix"]
        set_onednn(onednn)
        self.scope = paddle.static.Scope()
        self.exe = paddle.static.Executor(paddle.CPUPlace())
        self.cache = OrderedDict()
        startup = paddle.static.Program()
        progs = {}
        split = [("A", 1, [0], True, False), ("B", self.G, [1, 2, 3], False, True)] if self.share else \
            [("AB", self.G, [0, 1, 2, 3], True, True)]
        for name, g, stages, stem, head in split:
            prog = paddle.static.Program()
            with static_mode(), paddle.utils.unique_name.guard(), paddle.static.program_guard(prog, startup):
                net = make_net()
                net.open_stages = set(open_stages)
                net.eval()
                plain_layout_hooks(net)
                layout = MaskLayout(net)
                shape = list(x.shape[1:]) if stem else self._feat_shape(net)
                inp = paddle.static.data("x", [g * self.rows] + shape, "float32")
                vec = paddle.static.data("v", [g, layout.size], "float32")
                bn = None if mode == "running" else group_bn(g, self.rows, self.stats_rows)
                out = masked_forward(net, inp, vec, layout, rows=self.rows, bn=bn, stages=stages,
                                     stem=stem, head=head)
                names = {k: v.name for k, v in net.state_dict().items()}
            progs[name] = (prog, out, g)
        self.layout, self.progs, self.names = layout, progs, names
        with static_mode(), paddle.static.scope_guard(self.scope):
            self.exe.run(startup)
            for k, vname in names.items():
                self.scope.find_var(vname).get_tensor().set(np.ascontiguousarray(state[k], np.float32),
                                                            paddle.CPUPlace())

    def _feat_shape(self, net):
        p = net.profile
        return [p.space.max_stem(), p.stage_sizes()[0], p.stage_sizes()[0]]

    def _run(self, name, feed):
        prog, out, _ = self.progs[name]
        with static_mode(), paddle.static.scope_guard(self.scope):
            return self.exe.run(prog, feed=feed, fetch_list=[out])[0]

    def _prefix_features(self, code):
        key = prefix_key(code)
        if key not in self.cache:
            v = self.layout.vector(code)[None]
            self.cache[key] = self._run("A", {"x": self.x, "v": v})
            while len(self.cache) > 2 * self.G:
                self.cache.popitem(last=False)
        self.cache.move_to_end(key)
        return self.cache[key]

    def logits(self, codes) -> list:
        """Logits on the scored images (re-estimation rows dropped), one array per code."""
        out = []
        n_val = len(self.images["x"])
        for start in range(0, len(codes), self.G):
            batch = list(codes[start:start + self.G])
            real = len(batch)
            batch += [batch[-1]] * (self.G - real)           # static shapes: pad the last run
            v = self.layout.vectors(batch)
            if self.share:
                feats = np.concatenate([self._prefix_features(c) for c in batch])
                lg = self._run("B", {"x": feats, "v": v})
            else:
                lg = self._run("AB", {"x": np.tile(self.x, (self.G, 1, 1, 1)), "v": v})
            lg = lg.reshape(self.G, self.rows, -1)[:, self.rows - n_val:]
            out += [lg[i] for i in range(real)]
        return out

    def score(self, codes) -> list:
        order = sorted(range(len(codes)), key=lambda i: prefix_key(codes[i])) if self.share else range(len(codes))
        ordered = [codes[i] for i in order]
        vals = [metric(lg, self.images["y"], self.settings["metric"]) for lg in self.logits(ordered)]
        out = [None] * len(codes)
        for i, v in zip(order, vals):
            out[i] = v
        return out
