"""The plain stand-alone network of one code, laid out like the official Track 1 model.

Parameter names follow the official model (`blocks.0` = stem, `blocks.i` = BasicBlock with
conv1/bn1/conv2/bn2 and `downsample` = 1x1 conv + BN, `blocks.-1` = head with `fc`), so
a state dict moves between the two without key conversion.
"""
from __future__ import annotations

import paddle
import paddle.nn as nn

from ..profile import Profile
from ..space import BlockSpec
from .blocks import PlainOps, activation_layer, basic_block

_KAIMING = nn.initializer.KaimingNormal()


def conv(cin, cout, k, stride=1, pad=None):
    return nn.Conv2D(cin, cout, k, stride=stride, padding=k // 2 if pad is None else pad,
                     weight_attr=paddle.ParamAttr(initializer=_KAIMING), bias_attr=False)


class Stem(nn.Layer):
    def __init__(self, cin, cout, kernel, stride, pool, activation="relu"):
        super().__init__()
        self.conv = conv(cin, cout, kernel, stride)
        self.bn = nn.BatchNorm2D(cout)
        self.act = activation_layer(activation)
        self.maxpool = nn.MaxPool2D(3, 2, 1) if pool else None

    def forward(self, x):
        x = self.act(self.bn(self.conv(x)))
        return self.maxpool(x) if self.maxpool is not None else x


class BasicBlock(nn.Layer):
    def __init__(self, spec: BlockSpec, zero_init_last_bn: bool = False, activation: str = "relu"):
        super().__init__()
        self.conv1 = conv(spec.cin, spec.mid, 3, spec.stride)
        self.bn1 = nn.BatchNorm2D(spec.mid)
        self.conv2 = conv(spec.mid, spec.cout, 3)
        # Zero gamma makes the residual branch start as the identity: a deep net trains
        # like a shallow one at first (Goyal et al. 2017).
        gamma = paddle.ParamAttr(initializer=nn.initializer.Constant(0.0)) if zero_init_last_bn else None
        self.bn2 = nn.BatchNorm2D(spec.cout, weight_attr=gamma)
        self.act = activation_layer(activation)
        self.downsample = nn.Sequential(conv(spec.cin, spec.cout, 1, spec.stride, 0),
                                        nn.BatchNorm2D(spec.cout)) if spec.proj else None

    def forward(self, x):
        return basic_block(x, PlainOps(self, self.act))


class Head(nn.Layer):
    def __init__(self, cin, num_classes):
        super().__init__()
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.fc(x.mean(axis=[2, 3]))


class StandaloneNet(nn.Layer):
    def __init__(self, profile: Profile, code: str, zero_init_last_bn: bool = False):
        super().__init__()
        self.code = profile.space.canonical(code)
        spec = profile.spec(self.code)
        layers = [Stem(profile.in_channels, spec.stem, profile.stem_kernel, profile.stem_stride,
                       profile.stem_pool, profile.activation)]
        layers += [BasicBlock(b, zero_init_last_bn, profile.activation) for b in spec.blocks]
        layers.append(Head(spec.out_channels, profile.num_classes))
        self.blocks = nn.LayerList(layers)

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x
