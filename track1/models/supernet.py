"""The weight-sharing supernet: elastic blocks at the largest widths and depths.

Three layers, after once-for-all: elastic ops (elastic.py) -> elastic blocks (here) ->
`SuperNet` with `set_active_subnet(code)` and `get_active_subnet(code)`, the latter
returning the plain `StandaloneNet` of the code with the sliced weights copied in.
"""
from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..profile import Profile
from ..space import MAX_DEPTHS, NUM_STAGES
from .blocks import PlainOps, activation_fn, basic_block
from .elastic import ElasticBatchNorm2D, ElasticConv2D, ElasticLinear
from .standalone import StandaloneNet


def branch_of(code: int, groups) -> int:
    """Index of the width-code group holding `code` (0 = the widest group, shared weights)."""
    for g, values in enumerate(groups):
        if code in values:
            return g
    return 0


class ElasticStem(nn.Layer):
    def __init__(self, cin, max_out, kernel, stride, pool, activation="relu"):
        super().__init__()
        self.conv = ElasticConv2D(cin, max_out, kernel, stride)
        self.bn = ElasticBatchNorm2D(max_out)
        self.pool = pool
        self.act = activation_fn(activation)

    def set_active(self, width):
        self.conv.active_out = width

    def forward(self, x):
        x = self.act(self.bn(self.conv(x)))
        return F.max_pool2d(x, 3, 2, 1) if self.pool else x


class ElasticBlock(nn.Layer):
    """A BasicBlock whose conv widths are elastic; the projection runs exactly where the
    stand-alone model of the active code has one (stride != 1 or cin != cout)."""

    def __init__(self, max_in, max_mid, max_out, stride, has_proj, branches=0, activation="relu"):
        super().__init__()
        self.act = activation_fn(activation)
        self.conv1 = ElasticConv2D(max_in, max_mid, 3, stride, branches=branches)
        self.bn1 = ElasticBatchNorm2D(max_mid)
        self.conv2 = ElasticConv2D(max_mid, max_out, 3, branches=branches)
        self.bn2 = ElasticBatchNorm2D(max_out)
        self.stride = stride
        self.downsample = nn.Sequential(ElasticConv2D(max_in, max_out, 1, stride, 0, branches=branches),
                                        ElasticBatchNorm2D(max_out)) if has_proj else None

    def convs(self):
        return [self.conv1, self.conv2] + ([self.downsample[0]] if self.downsample is not None else [])

    def set_active(self, mid, out, mid_branch=0, out_branch=0):
        self.conv1.active_out, self.conv1.active_branch = mid, mid_branch
        self.conv2.active_out, self.conv2.active_branch = out, out_branch
        if self.downsample is not None:
            self.downsample[0].active_out, self.downsample[0].active_branch = out, out_branch

    def forward(self, x):
        return basic_block(x, _ElasticOps(self, self.act))


class _ElasticOps(PlainOps):
    def has_proj(self, x, y) -> bool:
        return self.blk.stride != 1 or x.shape[1] != y.shape[1]


class ElasticHead(nn.Layer):
    def __init__(self, max_in, num_classes):
        super().__init__()
        self.fc = ElasticLinear(max_in, num_classes)

    def forward(self, x):
        return self.fc(x.mean(axis=[2, 3]))


class SuperNet(nn.Layer):
    """All 5/5/8/5 block slots at the profile's widest channels.

    `blocks[0]` is the stem, `blocks[-1]` the head, and stage s's slots follow in order,
    so parameter names match the official supernet/stand-alone layout.
    """

    def __init__(self, profile: Profile, branch_groups=None, branch_stages=()):
        """`branch_groups` (lists of width codes, the first being the shared, widest group)
        gives every conv in `branch_stages` one weight branch per further group; branches
        serve sub-networks only in the stages listed in `open_stages` (progressive training
        opens them)."""
        super().__init__()
        self.profile = profile
        self.branch_groups = [list(g) for g in branch_groups] if branch_groups else [[1, 2, 3, 4, 5, 6, 7]]
        self.branch_stages = tuple(branch_stages)
        self.open_stages = set()
        sp = profile.space
        widths = sp.max_widths()
        layers = [ElasticStem(profile.in_channels, sp.max_stem(), profile.stem_kernel,
                              profile.stem_stride, profile.stem_pool, profile.activation)]
        self.slots = []
        cin = sp.max_stem()
        for s in range(NUM_STAGES):
            slots = []
            for i in range(MAX_DEPTHS[s]):
                stride = sp.strides[s] if i == 0 else 1
                slots.append(len(layers))
                nb = len(self.branch_groups) - 1 if s in self.branch_stages else 0
                layers.append(ElasticBlock(cin if i == 0 else widths[s], widths[s], widths[s], stride,
                                           i == 0 and self._needs_proj(s, stride), branches=nb,
                                           activation=profile.activation))
            cin = widths[s]
            self.slots.append(slots)
        layers.append(ElasticHead(widths[-1], profile.num_classes))
        self.blocks = nn.LayerList(layers)
        self.active_code = None
        self.set_active_subnet(sp.max_code())

    @classmethod
    def from_definition(cls, profile: Profile, definition: dict) -> "SuperNet":
        """The supernet a `definition()` describes (checkpoints store it: scoring rebuilds
        the trained supernet from it alone)."""
        return cls(profile, definition.get("branch_groups"), definition.get("branch_stages", ()))

    def definition(self) -> dict:
        """What shapes this supernet besides the profile: its weight branches."""
        if not self.branch_stages:
            return {}
        return {"branch_groups": self.branch_groups, "branch_stages": list(self.branch_stages)}

    def _needs_proj(self, s, stride):
        """Whether any sub-network has a projection at the first block of stage s."""
        sp = self.profile.space
        if stride != 1:
            return True
        if s == 0:
            return False  # the validity rules tie stage 1's output width to the stem's
        prev = {sp.width(s - 1, c) for c in sp.stage_codes[s - 1]}
        cur = {sp.width(s, c) for c in sp.stage_codes[s]}
        return len(prev | cur) > 1

    # ---------------------------------------------------------------- subnet control
    def set_active_subnet(self, code: str):
        sp = self.profile.space
        arch = sp.parse(code)
        self.blocks[0].set_active(sp.width(0, arch.stem))
        for s, stage in enumerate(arch.blocks):
            for i, (c1, c2) in enumerate(stage):
                self.blocks[self.slots[s][i]].set_active(sp.width(s, c1), sp.width(s, c2),
                                                         self.branch(s, c1), self.branch(s, c2))
        self.active_depths = arch.depths
        self.active_code = sp.encode(arch)
        return self

    def branch(self, stage: int, code: int) -> int:
        """The weight branch a conv of `stage` with output width code `code` uses now."""
        if stage not in self.open_stages:
            return 0
        return branch_of(code, self.branch_groups)

    def open_branches(self, stages):
        """Progressive training: from now on, narrow codes in `stages` use their own branch
        weights, each starting as a copy of the shared weights."""
        for s in stages:
            if s not in self.branch_stages:
                raise ValueError(f"stage {s + 1} was built without weight branches (branch_stages)")
            if s in self.open_stages:
                continue
            for idx in self.slots[s]:
                for conv in self.blocks[idx].convs():
                    conv.open_branches()
            self.open_stages.add(s)
        if self.active_code is not None:
            self.set_active_subnet(self.active_code)

    def active_blocks(self):
        for s in range(NUM_STAGES):
            for idx in self.slots[s][:self.active_depths[s]]:
                yield idx

    def forward(self, x):
        x = self.blocks[0](x)
        for idx in self.active_blocks():
            x = self.blocks[idx](x)
        return self.blocks[-1](x)

    @paddle.no_grad()
    def get_active_subnet(self, code: str | None = None) -> StandaloneNet:
        """The stand-alone model of `code` (default: the active one) with weights copied in."""
        if code is not None:
            self.set_active_subnet(code)
        net = StandaloneNet(self.profile, self.active_code)
        src = [self.blocks[0]] + [self.blocks[i] for i in self.active_blocks()] + [self.blocks[-1]]
        for mine, theirs in zip(src, net.blocks):
            for name, p in theirs.named_parameters():
                p.set_value(_leading(mine, name, p.shape))
            for name, b in theirs.named_buffers():
                b.set_value(_leading(mine, name, b.shape))
        return net


def _leading(layer, name, shape):
    """The leading slice of `layer`'s tensor `name` (of the active weight branch)."""
    *path, attr = name.split(".")
    for part in path:
        layer = layer[int(part)] if part.isdigit() else getattr(layer, part)
    t = layer.branch_weight(layer.active_branch) if isinstance(layer, ElasticConv2D) and attr == "weight" \
        else getattr(layer, attr)
    return t[tuple(slice(0, n) for n in shape)]
