"""Batch-norm statistics: re-estimation after training, the same way in dygraph and static.

Why: static-graph training with oneDNN never updates running mean/var (Paddle 3.3.1), and
a supernet's running statistics mix every sub-network it trained. Re-estimation runs the
network in train mode (each BN normalises with its batch statistics, as in training) and
sets running mean/var to the average of the per-batch statistics.
"""
from __future__ import annotations

import numpy as np
import paddle
import paddle.nn as nn


def bn_layers(net: nn.Layer) -> list:
    """BatchNorm layers in forward-definition order (names are stable across rebuilds)."""
    return [(n, l) for n, l in net.named_sublayers() if isinstance(l, nn.BatchNorm2D)]


def batch_stats(x):
    """Per-channel mean and biased variance of an NCHW batch."""
    mean = x.mean(axis=[0, 2, 3])
    var = ((x - mean.reshape([1, -1, 1, 1])) ** 2).mean(axis=[0, 2, 3])
    return mean, var


class StatsRecorder:
    """Forward pre-hooks that record each BN input's batch statistics, keyed by layer name."""

    def __init__(self, net: nn.Layer):
        self.values, self.handles = {}, []
        for name, layer in bn_layers(net):
            self.handles.append(layer.register_forward_pre_hook(self._hook(name)))

    def _hook(self, name):
        def hook(layer, inputs):
            self.values[name] = batch_stats(inputs[0])
        return hook

    def remove(self):
        for h in self.handles:
            h.remove()
        self.handles = []


class StatsAverager:
    """Running average of per-batch BN statistics, weighted by batch size."""

    def __init__(self):
        self.sums, self.count = {}, 0

    def add(self, stats: dict, n: int):
        for name, (m, v) in stats.items():
            m, v = np.asarray(m, np.float64), np.asarray(v, np.float64)
            if name in self.sums:
                self.sums[name][0] += n * m
                self.sums[name][1] += n * v
            else:
                self.sums[name] = [n * m, n * v]
        self.count += n

    def result(self) -> dict:
        if not self.count:
            raise ValueError("no batches seen for BN re-estimation")
        return {k: (m / self.count, v / self.count) for k, (m, v) in self.sums.items()}


@paddle.no_grad()
def recalibrate(net: nn.Layer, batches) -> int:
    """Dygraph re-estimation: set every BN's running stats from `batches` (x arrays)."""
    rec, avg = StatsRecorder(net), StatsAverager()
    was_training = net.training
    net.train()
    try:
        for x in batches:
            rec.values.clear()
            net(paddle.to_tensor(x))
            # Only layers that ran (a supernet's inactive blocks keep their statistics).
            avg.add({k: (m.numpy(), v.numpy()) for k, (m, v) in rec.values.items()}, len(x))
    finally:
        rec.remove()
        if not was_training:
            net.eval()
    stats = avg.result()
    layers = dict(bn_layers(net))
    for name, (m, v) in stats.items():
        bn = layers[name]
        c = len(m)
        bn._mean[:c] = paddle.to_tensor(m.astype(np.float32))
        bn._variance[:c] = paddle.to_tensor(v.astype(np.float32))
    return avg.count
