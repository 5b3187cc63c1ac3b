"""Several candidates in one program run, side by side in the channel dimension.

Why: on this CPU a scoring run of one candidate on 32 images spends most of its time in the
fixed cost of several hundred small ops, not in the convolutions. Running G candidates in
one run shares that cost. Stacking them along the batch axis (per-row masks, BN statistics
split per candidate) was measured slower: oneDNN runs binary ops whose broadcast is not
per-channel on slow reference paths. Here candidate g owns channels [g*C, (g+1)*C) of every
activation, so
- each conv is one grouped conv (groups = G) with the supernet's weight repeated G times
  (or each candidate's weight branch);
- BN is the native op over G*C channels: its per-channel batch statistics are exactly the
  per-candidate statistics, and the channel masks fold into gamma and beta (0/1, exact);
- gates and masks broadcast per channel only.
The images stay the batch: x is [rows, G*C, H, W]; the head returns [G, rows, classes].
"""
from __future__ import annotations

import paddle
import paddle.nn.functional as F

from .blocks import PlainOps, run_slots
from .masked import MaskLayout


def grouped_forward(supernet, x, vec, layout: MaskLayout, groups: int, bn_mode: str, stats_rows: int,
                    depths=None):
    """Stages 2-4 and the head of the supernet for the `groups` candidates whose arch vectors
    are the rows of `vec` ([groups, layout.size]); x holds their stage-1 outputs side by side
    in channels; `depths`: as in `masked_forward`. `bn_mode`: "batch" (statistics of the
    batch), "recal" (statistics of the first `stats_rows` rows) or "running" (the supernet's
    statistics)."""
    G = groups
    outs = {}

    def block_ops(s, i, blk):
        if s not in outs:
            outs[s] = layout.segment(vec, f"out{s}").reshape([-1])
        branched = s in supernet.branch_stages
        return GroupedOps(blk, G, bn_mode, stats_rows, layout.segment(vec, f"mid{s}.{i}").reshape([-1]), outs[s],
                          layout.segment(vec, f"br{s}.{i}.mid") if branched else None,
                          layout.segment(vec, f"br{s}.{i}.out") if branched else None)

    def gate(s, i, y, h):
        width = outs[s].shape[0] // G
        g = layout.segment(vec, f"gate{s}.{i}").expand([G, width]).reshape([1, G * width, 1, 1])
        return y * g + h * (1.0 - g)

    h = run_slots(supernet, x, (1, 2, 3), depths, block_ops, gate, layout.min_depths)
    fc = supernet.blocks[-1].fc
    feat = h.mean(axis=[2, 3])                                   # [rows, G * C]
    feat = feat.reshape([feat.shape[0], G, -1]).transpose([1, 0, 2])   # [G, rows, C]
    return paddle.matmul(feat, fc.weight) + fc.bias


class GroupedOps(PlainOps):
    """A block of G candidates side by side: grouped convs of the (branch-chosen) weights
    repeated G times, native BN over G*C channels with the channel masks folded into gamma
    and beta (0/1, exact)."""

    def __init__(self, blk, groups, bn_mode, stats_rows, mid_mask, out_mask, sel_mid, sel_out):
        super().__init__(blk, blk.act)
        self.G, self.bn_mode, self.stats_rows = groups, bn_mode, stats_rows
        self.mid_mask, self.out_mask, self.sel_mid, self.sel_out = mid_mask, out_mask, sel_mid, sel_out

    def _conv(self, layer, z, sel):
        G = self.G
        if sel is not None and layer.n_branches > 1:
            ws = paddle.stack([layer.branch_weight(b) for b in range(layer.n_branches)])
            w = paddle.matmul(sel, ws.reshape([layer.n_branches, -1]))
            w = w.reshape([G * layer.weight.shape[0]] + layer.weight.shape[1:])
        else:
            w = paddle.tile(layer.weight, [G, 1, 1, 1])
        return F.conv2d(z, w, stride=layer._stride, padding=layer._padding, groups=G)

    def _norm(self, layer, z, mask):
        G = self.G
        w, b = paddle.tile(layer.weight, [G]) * mask, paddle.tile(layer.bias, [G]) * mask
        if self.bn_mode == "recal" and self.stats_rows < z.shape[0]:
            return norm_by_rows(z, self.stats_rows, w, b, layer._epsilon)   # re-estimation rows first
        return F.batch_norm(z, paddle.tile(layer._mean, [G]), paddle.tile(layer._variance, [G]), w, b,
                            training=self.bn_mode != "running", momentum=layer._momentum, epsilon=layer._epsilon)

    def conv1(self, x):
        return self._conv(self.blk.conv1, x, self.sel_mid)

    def bn1(self, x):
        return self._norm(self.blk.bn1, x, self.mid_mask)

    def conv2(self, x):
        return self._conv(self.blk.conv2, x, self.sel_out)

    def bn2(self, x):
        return self._norm(self.blk.bn2, x, self.out_mask)

    def proj(self, x):
        ds = self.blk.downsample
        return self._norm(ds[1], self._conv(ds[0], x, self.sel_out), self.out_mask)


def norm_by_rows(x, stats_rows: int, weight, bias, eps: float):
    """BN of x [rows, C, H, W] with the statistics of its first `stats_rows` rows, built from
    per-channel broadcasts only (the fast kind under oneDNN)."""
    src = x[:stats_rows]
    mean = src.mean(axis=[0, 2, 3], keepdim=True)
    var = ((src - mean) ** 2).mean(axis=[0, 2, 3], keepdim=True)
    scale = weight.reshape([1, -1, 1, 1]) * paddle.rsqrt(var + eps)
    return (x - mean) * scale + bias.reshape([1, -1, 1, 1])
