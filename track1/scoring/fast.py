"""The fast scorer: masked-supernet programs under oneDNN, a shared prefix, grouped runs.

Program A runs the stem and stage 1 of one candidate prefix (stem width, stage-1 depth and
widths: only about 1,100 distinct ones among the 45,000 official candidates, and stage 1
is about half of a network's MACs); program B runs stages 2-4 and the head of `group`
candidates at once, side by side in channels (grouped.py), on the cached stage-1 features
of their prefixes. Candidates are scored in prefix order, so each prefix is computed once.
BN uses batch statistics, statistics re-estimated on extra rows, or the supernet's running
statistics; a candidate's score never depends on which others share its run, so callers
choose the order (the scoring run passes prefix order, in which each prefix runs once).
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import paddle

from ..models.grouped import grouped_forward
from ..models.masked import MaskLayout, masked_forward
from ..runtime.static import StaticRuntime
from ..space import prefix_key
from .common import metric, stats_bn


class FastScorer:
    def __init__(self, make_net, state: dict, open_stages, images: dict, settings: dict, onednn=True):
        self.settings, self.images = settings, images
        mode = self.mode = settings["bn"]
        self.stats_rows = len(images["x_recal"]) if mode == "recal" else len(images["x"])
        x = images["x"] if mode != "recal" else np.concatenate([images["x_recal"], images["x"]])
        self.x, self.rows, self.G = x, len(x), settings["group"]
        # Without sharing, every candidate computes its own stage 1 (what sharing saves).
        self.key = prefix_key if settings["share_prefix"] else (lambda c: c)
        self.by_depth = settings["specialise_depth"]
        self.make_net, self.open_stages = make_net, set(open_stages)
        self.runtime = StaticRuntime(state, onednn)
        self.cache = OrderedDict()
        self.layout = None
        # Programs are specialised to the depths they run (absent blocks cost nothing) and
        # built on first use, all in one runtime.
        self.runtime.program(("A", None), self._builder(("A", None)))

    def _builder(self, key):
        """The program for key (part, depths): part A = stem + stage 1 of one candidate,
        B = stages 2-4 + head of G candidates; depths None = all blocks, gated."""
        part, depths = key

        def build():
            net = self.make_net()
            net.open_stages = self.open_stages
            net.eval()
            layout = MaskLayout(net)
            if self.layout is None:
                self.layout = layout
            if part == "A":
                inp = paddle.static.data("x", [self.rows] + list(self.x.shape[1:]), "float32")
                vec = paddle.static.data("v", [1, layout.size], "float32")
                bn = None if self.mode == "running" else stats_bn(self.stats_rows, self.rows)
                out = masked_forward(net, inp, vec, layout, bn=bn, stages=[0], head=False, depths=depths)
            else:
                p = net.profile
                c, hw = p.space.max_stem(), p.stage_sizes()[0]
                inp = paddle.static.data("x", [self.rows, self.G * c, hw, hw], "float32")
                vec = paddle.static.data("v", [self.G, layout.size], "float32")
                out = grouped_forward(net, inp, vec, layout, self.G, self.mode, self.stats_rows, depths=depths)
            return net, [out]
        return build

    def _run(self, key, feed):
        return self.runtime.run(key, self._builder(key), feed)[0]

    def _depths(self, code):
        return self.layout.space.parse(code).depths if self.by_depth else None

    def _prefix_features(self, code):
        key = self.key(code)
        if key not in self.cache:
            d = self._depths(code)
            self.cache[key] = self._run(("A", d and (d[0], 0, 0, 0)), {"x": self.x, "v": self.layout.vector(code)[None]})
            while len(self.cache) > 2 * self.G:
                self.cache.popitem(last=False)
        self.cache.move_to_end(key)
        return self.cache[key]

    def logits(self, codes) -> list:
        """Logits on the scored images (re-estimation rows dropped), one array per code."""
        out = []
        n_val = len(self.images["x"])
        runs, cur = [], []
        for c in codes:
            if cur and (len(cur) == self.G or self._depths(c) != self._depths(cur[0])):
                runs.append(cur)
                cur = []
            cur.append(c)
        if cur:
            runs.append(cur)
        for batch in runs:
            real = len(batch)
            batch = batch + [batch[-1]] * (self.G - real)     # static shapes: pad the run
            d = self._depths(batch[0])
            feats = np.concatenate([self._prefix_features(c) for c in batch], axis=1)
            lg = self._run(("B", d and (0,) + tuple(d[1:])), {"x": feats, "v": self.layout.vectors(batch)})
            out += [lg[i, self.rows - n_val:] for i in range(real)]
        return out

    def score(self, codes) -> list:
        """Scores in the order given (fastest in `work_order`: each prefix computed once)."""
        return [metric(lg, self.images["y"], self.settings["metric"]) for lg in self.logits(codes)]


def work_order(codes, space, by_depth: bool) -> list:
    """Indices of `codes` in the order a scoring run works: by stage-1 prefix (each prefix is
    computed once) and, for depth-specialised programs, by depths (fewer program switches)."""
    key = (lambda i: (prefix_key(codes[i]), space.parse(codes[i]).depths, i)) if by_depth else \
        (lambda i: (prefix_key(codes[i]), i))
    return sorted(range(len(codes)), key=key)
