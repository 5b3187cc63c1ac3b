"""The supernet as one fixed graph: sub-networks chosen by masks fed as data.

Why: a static program with oneDNN is the fast CPU path, and a static graph cannot change
shape per step. Every conv runs at full width; each BN output is multiplied by a 0/1
channel mask and each skippable block is gated, `y = g * block(x) + (1 - g) * x`. With
zero-masked inputs, a conv over all channels equals the conv over the active ones, and
BN is per channel, so the masked forward equals the sliced sub-network exactly (tests
check it) while paying the largest network's cost.

All masks travel in one float vector (`arch_vector`), laid out by `MaskLayout`.
"""
from __future__ import annotations

import numpy as np
import paddle
import paddle.nn.functional as F

from ..space import MAX_DEPTHS, NUM_STAGES
from .blocks import PlainOps, run_slots


class MaskLayout:
    """Where each mask lives in the arch vector: the stem/stage-1 output, each stage's
    output (stages 2-4), each block's conv1 output, and one gate per skippable block."""

    def __init__(self, supernet):
        sp = supernet.profile.space
        self.space, self.net = sp, supernet
        self.min_depths = [lo for lo, _ in sp.depth_range]
        widths = sp.max_widths()
        self.segments, off = {}, 0

        def add(name, n):
            nonlocal off
            self.segments[name] = (off, n)
            off += n

        add("out0", sp.max_stem())
        for s in range(1, NUM_STAGES):
            add(f"out{s}", widths[s])
        for s in range(NUM_STAGES):
            for i in range(MAX_DEPTHS[s]):
                add(f"mid{s}.{i}", widths[s])
        for s in range(NUM_STAGES):
            for i in range(self.min_depths[s], MAX_DEPTHS[s]):
                add(f"gate{s}.{i}", 1)
        # One-hot weight-branch choice per conv of the branched stages (candidate enhancement).
        self.n_branches = len(supernet.branch_groups)
        for s in supernet.branch_stages:
            for i in range(MAX_DEPTHS[s]):
                add(f"br{s}.{i}.mid", self.n_branches)
                add(f"br{s}.{i}.out", self.n_branches)
        self.size = off

    def vector(self, code: str) -> np.ndarray:
        sp = self.space
        arch = sp.parse(code)
        v = np.zeros(self.size, np.float32)

        def ones(name, n):
            o, _ = self.segments[name]
            v[o:o + n] = 1.0

        ones("out0", sp.width(0, arch.stem))
        for s in range(1, NUM_STAGES):
            ones(f"out{s}", sp.width(s, arch.blocks[s][0][1]))
        for s, stage in enumerate(arch.blocks):
            for i, (c1, _) in enumerate(stage):
                ones(f"mid{s}.{i}", sp.width(s, c1))
            for i in range(self.min_depths[s], MAX_DEPTHS[s]):
                v[self.segments[f"gate{s}.{i}"][0]] = 1.0 if i < arch.depths[s] else 0.0
        for s in self.net.branch_stages:
            for i in range(MAX_DEPTHS[s]):
                c1, c2 = arch.blocks[s][i] if i < arch.depths[s] else arch.blocks[s][0]
                v[self.segments[f"br{s}.{i}.mid"][0] + self.net.branch(s, c1)] = 1.0
                v[self.segments[f"br{s}.{i}.out"][0] + self.net.branch(s, c2)] = 1.0
        return v

    def vectors(self, codes) -> np.ndarray:
        return np.stack([self.vector(c) for c in codes])

    def segment(self, vec, name):
        """The entries of `name` from a [B, size] arch tensor: [B, n]."""
        o, n = self.segments[name]
        return vec[:, o:o + n]

    def part(self, vec, name):
        """The mask `name` from a [B, size] arch tensor, shaped to broadcast over NCHW."""
        return self.segment(vec, name).reshape([-1, self.segments[name][1], 1, 1])


def masked_forward(supernet, x, vec, layout: MaskLayout, bn=None,
                   stages=range(NUM_STAGES), stem: bool = True, head: bool = True, depths=None):
    """Forward of the supernet for the sub-network in `vec` ([1, layout.size]).

    `bn(layer, x)` replaces the BN layers (e.g. statistics of some rows only); `stages` /
    `stem` / `head` run part of the net, so a shared prefix (stem + stage 1) can be computed
    once for many candidates. `depths` (one per stage): build only those blocks, ungated: a
    program specialised to the depths of the candidates it scores, not paying for their
    absent blocks. (Several candidates per run: grouped.py.)"""
    blocks = supernet.blocks
    bn = bn or _bn
    out0 = layout.part(vec, "out0")
    h = x
    if stem:
        stem_block = blocks[0]
        h = stem_block.act(bn(stem_block.bn, stem_block.conv(x))) * out0
        if stem_block.pool:
            h = F.max_pool2d(h, 3, 2, 1)
    outs = {0: out0}

    def block_ops(s, i, blk):
        if s not in outs:
            outs[s] = layout.part(vec, f"out{s}")
        branched = s in supernet.branch_stages
        return MaskedOps(blk, bn, layout.part(vec, f"mid{s}.{i}"), outs[s],
                         layout.segment(vec, f"br{s}.{i}.mid") if branched else None,
                         layout.segment(vec, f"br{s}.{i}.out") if branched else None)

    def gate(s, i, y, h):
        g = layout.part(vec, f"gate{s}.{i}")
        return y * g + h * (1.0 - g)

    h = run_slots(supernet, h, stages, depths, block_ops, gate, layout.min_depths)
    return blocks[-1](h) if head else h


class MaskedOps(PlainOps):
    """A block at full width: convs of the chosen weight branch, BN by `bn`, the inactive
    channels zeroed by 0/1 masks after conv1-BN-act (`mid`) and after each output BN (`out`)."""

    def __init__(self, blk, bn, mid_mask, out_mask, sel_mid, sel_out):
        super().__init__(blk, blk.act)
        self.bn, self.mid_mask, self.out_mask, self.sel_mid, self.sel_out = bn, mid_mask, out_mask, sel_mid, sel_out

    def conv1(self, x):
        return _conv(self.blk.conv1, x, self.sel_mid)

    def bn1(self, x):
        return self.bn(self.blk.bn1, x)

    def conv2(self, x):
        return _conv(self.blk.conv2, x, self.sel_out)

    def bn2(self, x):
        return self.bn(self.blk.bn2, x)

    def mid(self, y):
        return y * self.mid_mask

    def out(self, y):
        return y * self.out_mask

    def proj(self, x):
        ds = self.blk.downsample
        return self.bn(ds[1], _conv(ds[0], x, self.sel_out))


def _bn(layer, x):
    """BN over all channels. In a static program the affine parameters pass through
    `paddle.assign`: with oneDNN (Paddle 3.3.1), a BN whose gamma/beta receive gradients
    from several forwards of one program fails at run time (std::exception); the copies
    make their gradients accumulate as plain tensors."""
    if paddle.in_dynamic_mode():
        return layer(x)
    return F.batch_norm(x, layer._mean, layer._variance, paddle.assign(layer.weight), paddle.assign(layer.bias),
                        training=layer.training, momentum=layer._momentum, epsilon=layer._epsilon)


def _conv(layer, x, sel):
    """Conv with the weight branch chosen by the one-hot selector row `sel` ([1, branches])."""
    if sel is None or layer.n_branches == 1:
        return layer(x)
    w = paddle.add_n([sel[0, b] * layer.branch_weight(b) for b in range(layer.n_branches)])
    return F.conv2d(x, w, stride=layer._stride, padding=layer._padding)
