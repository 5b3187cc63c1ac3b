"""NASWOT (Mellor et al. 2021): how differently the ReLUs of the untrained net split a batch.

Each input gets the binary code of which ReLU units fire; K[i, j] counts the units on which
inputs i and j agree (Hamming similarity); score = log|det K|.
"""
import numpy as np
import paddle

from ..models.blocks import ACTIVATION_LAYERS
from .base import PROXIES


@PROXIES.register("naswot", sign=1, needs_net=True)
def naswot(ctx):
    net = ctx.net(train=True)
    x, _ = ctx.batch()
    n = len(x)
    K = np.zeros((n, n))
    handles = []

    def hook(layer, inp, out):
        c = (out.reshape([n, -1]) > 0).astype("float64").numpy()
        K[...] += c @ c.T + (1 - c) @ (1 - c).T

    for layer in net.sublayers():
        if isinstance(layer, ACTIVATION_LAYERS):
            handles.append(layer.register_forward_post_hook(hook))
    with paddle.no_grad():
        net(paddle.to_tensor(x))
    for h in handles:
        h.remove()
    sign, logdet = np.linalg.slogdet(K)
    return float(logdet) if sign > 0 else float("-inf")
