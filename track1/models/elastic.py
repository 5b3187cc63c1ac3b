"""Elastic ops: layers that hold the widest weights and run on their leading channels.

The active input width is read off the input tensor; the active output width is set by the
block that owns the layer. Slicing keeps channel 0..c-1, so a sub-network's weights are the
leading slices of the supernet's (importance re-ordering, if added, permutes before slicing).
"""
from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .standalone import _KAIMING


class ElasticConv2D(nn.Conv2D):
    """`branches` extra weight tensors (candidate enhancement): branch b > 0 serves the
    sub-networks whose width code for this conv falls in the b-th narrow group, so they
    stop sharing weights with the wide ones. Branch 0 is `weight`."""

    def __init__(self, max_in, max_out, kernel, stride=1, pad=None, branches=0):
        super().__init__(max_in, max_out, kernel, stride=stride,
                         padding=kernel // 2 if pad is None else pad,
                         weight_attr=paddle.ParamAttr(initializer=_KAIMING), bias_attr=False)
        self.active_out = max_out
        self.active_branch = 0
        # append, not the constructor: ParameterList's constructor rejects the parameters
        # a static (PIR) program creates, and the static engine and scorer build this layer there.
        self.branch_weights = nn.ParameterList()
        for _ in range(branches):
            self.branch_weights.append(self.create_parameter(self.weight.shape, default_initializer=_KAIMING))

    @property
    def n_branches(self) -> int:
        return 1 + len(self.branch_weights)

    def branch_weight(self, b: int):
        return self.weight if b == 0 else self.branch_weights[b - 1]

    def active_weight(self, cin):
        w = self.branch_weight(self.active_branch)
        if self.active_out == w.shape[0] and cin == w.shape[1]:
            # Full width: the parameter itself. A sliced copy of a weight, fed to oneDNN's
            # conv in a static training program, went stale after a few updates (Paddle 3.3.1).
            return w
        return w[:self.active_out, :cin]

    @paddle.no_grad()
    def open_branches(self):
        """Start every branch from the shared weights (when progressive training adds it)."""
        for w in self.branch_weights:
            w.set_value(self.weight)

    def forward(self, x):
        return F.conv2d(x, self.active_weight(x.shape[1]), stride=self._stride, padding=self._padding)


class ElasticBatchNorm2D(nn.BatchNorm2D):
    """BN over the leading channels; in training the sliced running stats are written back."""

    def forward(self, x):
        c = x.shape[1]
        if not self.training:
            return F.batch_norm(x, self._mean[:c], self._variance[:c], self.weight[:c], self.bias[:c],
                                training=False, epsilon=self._epsilon)
        # Training: batch_norm updates the running statistics it is given in place. Hand it
        # copies and write them back: the buffers themselves must stay untouched by autograd,
        # since one step may run several sub-networks before its single backward.
        mean, var = self._mean[:c].clone(), self._variance[:c].clone()
        out = F.batch_norm(x, mean, var, self.weight[:c], self.bias[:c], training=True,
                           momentum=self._momentum, epsilon=self._epsilon)
        with paddle.no_grad():
            self._mean[:c] = mean
            self._variance[:c] = var
        return out


class ElasticLinear(nn.Linear):
    def forward(self, x):
        w = self.weight if x.shape[1] == self.weight.shape[0] else self.weight[:x.shape[1]]
        return F.linear(x, w, self.bias)
