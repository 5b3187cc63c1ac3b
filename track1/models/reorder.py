"""L1-importance channel reordering of a supernet, before slicing.

Sub-networks run on the leading channels of every elastic layer (elastic.py), so which
channels come first decides what a narrow sub-network inherits. Before a supernet is
trained from a pretrained largest network, the Track 1 teams permuted each layer's
channels so that the most important ones lead. The permutations here change no function
of the largest network: every tensor that writes a channel space and every tensor that
reads it is permuted alike, so its outputs stay the same up to float rounding.

Channel spaces and who shares them:
  - a block's mid channels (conv1 out -> bn1 -> conv2 in): one permutation per block;
  - a stage's output channels: written by every block's conv2 (+ bn2) and the first
    block's projection (+ its BN), read by the next block's conv1 and projection and, for
    the last stage, by the head's fc rows. The identity shortcuts add all blocks of a stage
    channel by channel, so the whole stage gets one permutation;
  - a stage whose first block has stride 1 can run with an identity shortcut from the
    previous stage (with the profiles here: stage 1 from the stem, which the validity rules
    tie to stage 1's output width), so the two spaces are merged into one.

Importance of a channel: the L1 norm of its filter (the conv weight's output slice),
summed over every conv writing that channel space; BN scales are not part of it. Weight
branches (progressive training's `branch_weights`) are permuted exactly like `weight`;
the importance comes from `weight` (branch 0, the shared weights) alone.

This differs from the official demo (`hnas/models/resnet.py`, `reorder_weights`, as
shipped in pprp/CVPR2022-NAS-competition-Track1-3th-solution): it reorders only each
block's mid channels, by the L1 norm of conv2's input slices, and leaves the stem and
stage outputs in place.

API: `reorder_state(state, net)` is pure (numpy state dict in, permuted copy and the
permutations out; `net` only supplies the structure); `reorder_by_importance(net)`
applies it to the supernet in place. Both return permutations `perm` with
new channel i = old channel perm[i].
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..space import NUM_STAGES
from .supernet import SuperNet

_BN = ("weight", "bias", "_mean", "_variance")


class ReorderError(ValueError):
    """The supernet's structure does not admit one consistent permutation (one line)."""


@dataclass
class Space:
    """One channel space: the convs (and their BNs) writing it, the tensors reading it."""
    name: str
    size: int
    writers: list = field(default_factory=list)   # (conv prefix, bn prefix)
    readers: list = field(default_factory=list)   # (tensor prefix, axis); conv weights incl. branches


def channel_spaces(net: SuperNet) -> list:
    """The channel spaces of `net`, stage spaces merged where an identity shortcut can join them."""
    blocks, slots = net.blocks, net.slots
    strides = net.profile.space.strides
    stem = Space("stem", blocks[0].conv.weight.shape[0], [("blocks.0.conv", "blocks.0.bn")])
    spaces, stage_out = [stem], []
    prev = stem
    for s in range(NUM_STAGES):
        first = slots[s][0]
        out = Space(f"stage{s + 1}", blocks[first].conv2.weight.shape[0])
        for i, idx in enumerate(slots[s]):
            b, p = blocks[idx], f"blocks.{idx}"
            mid = Space(f"{p}.mid", b.conv1.weight.shape[0], [(f"{p}.conv1", f"{p}.bn1")], [(f"{p}.conv2", 1)])
            spaces.append(mid)
            out.writers.append((f"{p}.conv2", f"{p}.bn2"))
            src = prev if i == 0 else out
            src.readers.append((f"{p}.conv1", 1))
            if b.downsample is not None:
                out.writers.append((f"{p}.downsample.0", f"{p}.downsample.1"))
                src.readers.append((f"{p}.downsample.0", 1))
        if strides[s] == 1:
            # An identity shortcut may carry the previous space into this one unchanged.
            if prev.size != out.size:
                raise ReorderError(f"stage {s + 1} has stride 1 but {out.size} output channels against "
                                   f"{prev.size} before it: no common permutation")
            prev.name += f"+{out.name}"
            prev.writers += out.writers
            prev.readers += out.readers
            out = prev
        else:
            spaces.append(out)
        stage_out.append(out)
        prev = out
    prev.readers.append((f"blocks.{len(blocks) - 1}.fc.weight", 0))
    return spaces


def _conv_keys(state, prefix):
    """The weight of conv `prefix` and its branch weights, in state-dict key order."""
    keys = [f"{prefix}.weight"]
    keys += [k for k in state if k.startswith(f"{prefix}.branch_weights.")]
    return keys


def _reader_keys(state, prefix):
    return [prefix] if prefix in state else _conv_keys(state, prefix)


def importance(state: dict, net: SuperNet) -> dict:
    """Per channel space, the summed L1 norm of the filters writing each channel."""
    out = {}
    for sp in channel_spaces(net):
        out[sp.name] = sum(np.abs(np.asarray(state[f"{conv}.weight"])).reshape(sp.size, -1).sum(axis=1)
                           for conv, _ in sp.writers)
    return out


def reorder_state(state: dict, net: SuperNet):
    """(permuted copy of `state`, {space name: perm}); `state` maps track1 keys to arrays."""
    new = {k: np.asarray(v).copy() for k, v in state.items()}
    perms = {}
    imp = importance(state, net)
    for sp in channel_spaces(net):
        # Stable sort: ties keep their order, so equal channels (e.g. a fresh zero-init) stay put.
        perm = np.argsort(-imp[sp.name], kind="stable")
        perms[sp.name] = perm
        for conv, bn in sp.writers:
            for k in _conv_keys(state, conv):
                new[k] = new[k][perm]
            for a in _BN:
                new[f"{bn}.{a}"] = new[f"{bn}.{a}"][perm]
        for prefix, axis in sp.readers:
            for k in _reader_keys(state, prefix):
                new[k] = np.take(new[k], perm, axis=axis)
    return new, perms


def reorder_by_importance(net: SuperNet) -> dict:
    """Permute `net`'s channels in place by importance; returns {space name: perm}."""
    import paddle
    own = net.state_dict()
    new, perms = reorder_state({k: v.numpy() for k, v in own.items()}, net)
    with paddle.no_grad():
        for k, t in own.items():
            t.set_value(new[k])
    return perms
