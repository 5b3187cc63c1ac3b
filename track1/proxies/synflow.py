"""SynFlow (Tanaka et al. 2020; zero-cost form of Abdelfattah et al. 2021).

All weights replaced by their absolute values, an all-ones input, R = sum of the outputs;
score = sum over conv/FC weights of theta * dR/dtheta. Computed in float64: the score of a
48-layer net spans 1e30-1e60 and overflows float32. BN runs in eval mode at its initial
statistics (an affine identity), as in the zero-cost reference implementation.
"""
import numpy as np
import paddle

from .base import PROXIES
from .base import weight_layers


@PROXIES.register("synflow", sign=1, needs_net=True)
def synflow(ctx):
    net = ctx.net(train=False)
    net.to(dtype="float64")
    with paddle.no_grad():
        for p in net.parameters():
            p.set_value(paddle.abs(p))
    out = net(paddle.ones(ctx.input_shape(1), dtype="float64"))
    out.sum().backward()
    total = 0.0
    for layer in weight_layers(net):
        w = layer.weight
        total += float((w * w.grad).sum())
    return float(np.float64(total))
