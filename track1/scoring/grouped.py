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

from ..models.masked import MaskLayout
from .common import norm_by_rows


def grouped_forward(supernet, x, vec, layout: MaskLayout, groups: int, bn_mode: str, stats_rows: int,
                    depths=None):
    """Stages 2-4 and the head of the supernet for the `groups` candidates whose arch vectors
    are the rows of `vec` ([groups, layout.size]); x holds their stage-1 outputs side by side
    in channels; `depths`: as in `masked_forward`. `bn_mode`: "batch" (statistics of the batch), "recal" (statistics of the
    first `stats_rows` rows) or "running" (the supernet's statistics)."""
    G = groups

    def seg(name):
        return layout.segment(vec, name)

    def channel_vec(name):
        return seg(name).reshape([-1])

    def conv(layer, z, sel):
        if sel is not None and layer.n_branches > 1:
            ws = paddle.stack([layer.branch_weight(b) for b in range(layer.n_branches)])
            w = paddle.matmul(sel, ws.reshape([layer.n_branches, -1]))
            w = w.reshape([G * layer.weight.shape[0]] + layer.weight.shape[1:])
        else:
            w = paddle.tile(layer.weight, [G, 1, 1, 1])
        return F.conv2d(z, w, stride=layer._stride, padding=layer._padding, groups=G)

    def norm(layer, z, mask):
        w, b = paddle.tile(layer.weight, [G]) * mask, paddle.tile(layer.bias, [G]) * mask
        if bn_mode == "recal" and stats_rows < z.shape[0]:
            return norm_by_rows(z, stats_rows, w, b, layer._epsilon)   # re-estimation rows first
        return F.batch_norm(z, paddle.tile(layer._mean, [G]), paddle.tile(layer._variance, [G]), w, b,
                            training=bn_mode != "running", momentum=layer._momentum, epsilon=layer._epsilon)

    blocks = supernet.blocks
    h = x
    for s in (1, 2, 3):
        out = channel_vec(f"out{s}")
        width = out.shape[0] // G
        branched = s in supernet.branch_stages
        for i, idx in enumerate(supernet.slots[s]):
            if depths is not None and i >= depths[s]:
                break
            blk = blocks[idx]
            sel_mid = seg(f"br{s}.{i}.mid") if branched else None
            sel_out = seg(f"br{s}.{i}.out") if branched else None
            y = F.relu(norm(blk.bn1, conv(blk.conv1, h, sel_mid), channel_vec(f"mid{s}.{i}")))
            y = norm(blk.bn2, conv(blk.conv2, y, sel_out), out)
            if blk.downsample is not None:
                sc = norm(blk.downsample[1], conv(blk.downsample[0], h, sel_out), out)
            else:
                sc = h
            y = F.relu(y + sc)
            if depths is None and i >= layout.min_depths[s]:
                g = seg(f"gate{s}.{i}").expand([G, width]).reshape([1, G * width, 1, 1])
                y = y * g + h * (1.0 - g)
            h = y
    fc = blocks[-1].fc
    feat = h.mean(axis=[2, 3])                                   # [rows, G * C]
    feat = feat.reshape([feat.shape[0], G, -1]).transpose([1, 0, 2])   # [G, rows, C]
    return paddle.matmul(feat, fc.weight) + fc.bias
