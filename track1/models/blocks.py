"""The one residual block forward of track1, and the one loop over a supernet's block slots.

Every network here (stand-alone, elastic supernet, masked supernet, grouped candidates) is
the same BasicBlock: conv-BN-act, conv-BN, shortcut, add, act (act: the profile's activation,
ReLU by default). They differ only in how a
conv and a BN compute and in what is multiplied in after them (channel masks, gates), so the
forward is written once (`basic_block`) and each network supplies its ops:
- `PlainOps`: the block's own layers (stand-alone; the elastic supernet, whose layers slice);
- masked and grouped op sets (masked.py, grouped.py): convs over the full width with masks,
  for static programs that cannot change shape per sub-network.
"""
from __future__ import annotations

import paddle.nn as nn
import paddle.nn.functional as F

# `profile.activation`: name -> (layer class, functional op). Each maps 0 to 0, which the
# masked and grouped networks rely on: a channel zeroed before it stays zeroed after it. Each
# is also positive exactly where its input is, so NASWOT's firing pattern means the same for
# all. PReLU is not offered: its learned slopes would need slicing and tiling of their own.
ACTIVATIONS = {"relu": (nn.ReLU, F.relu), "mish": (nn.Mish, F.mish), "swish": (nn.Silu, F.silu)}
# What the proxies hook (NASWOT, Fisher): the stand-alone model's activation layers.
ACTIVATION_LAYERS = tuple(layer for layer, _ in ACTIVATIONS.values())


def activation_fn(name: str):
    return ACTIVATIONS[name][1]


def activation_layer(name: str):
    return ACTIVATIONS[name][0]()


class PlainOps:
    """A block run by its own layers. `act` is the functional activation by default; the
    stand-alone model passes its activation layer so that hooks on it (NASWOT) see every call."""

    def __init__(self, blk, act=F.relu):
        self.blk, self.act = blk, act

    def conv1(self, x):
        return self.blk.conv1(x)

    def bn1(self, x):
        return self.blk.bn1(x)

    def conv2(self, x):
        return self.blk.conv2(x)

    def bn2(self, x):
        return self.blk.bn2(x)

    def mid(self, y):
        """After conv1-BN-act (masked networks zero the inactive channels here)."""
        return y

    def out(self, y):
        """After conv2-BN and after the projection shortcut."""
        return y

    def has_proj(self, x, y) -> bool:
        return self.blk.downsample is not None

    def proj(self, x):
        return self.blk.downsample(x)


def basic_block(x, ops):
    y = ops.mid(ops.act(ops.bn1(ops.conv1(x))))
    y = ops.out(ops.bn2(ops.conv2(y)))
    shortcut = ops.out(ops.proj(x)) if ops.has_proj(x, y) else x
    return ops.act(y + shortcut)


def run_slots(supernet, h, stages, depths, block_ops, gate, min_depths):
    """Stage by stage, the supernet's block slots on `h`. `block_ops(s, i, blk)` gives the
    ops of slot i of stage s; a skippable slot (i >= min_depths[s]) is blended by
    `gate(s, i, y, h)`. With `depths` (one per stage), only those slots are built, ungated:
    a program specialised to those depths pays nothing for absent blocks."""
    for s in stages:
        for i, idx in enumerate(supernet.slots[s]):
            if depths is not None and i >= depths[s]:
                break
            y = basic_block(h, block_ops(s, i, supernet.blocks[idx]))
            if depths is None and i >= min_depths[s]:
                y = gate(s, i, y, h)
            h = y
    return h
