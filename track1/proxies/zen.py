"""Zen-score (Lin et al. 2021): expressivity of the pre-pooling feature map.

Weights ~ N(0, 1) (convs) with BN in train mode; inputs x ~ N(0, 1) and x + a*eps;
Zen = log E||f(x) - f(x + a*eps)||_F + sum over BNs of log sqrt(mean batch variance),
averaged over `zen_repeats` draws. The BN term undoes BN's rescaling, so deeper/wider
networks, whose features grow, score higher.
"""
import numpy as np
import paddle

from .base import PROXIES
from ..bn import StatsRecorder


@PROXIES.register("zen", sign=1, needs_net=True)
def zen(ctx):
    rng = np.random.default_rng(ctx.seed)
    alpha = ctx.settings.get("zen_mixup", 0.01)
    repeats = ctx.settings.get("zen_repeats", 1)
    scores = []
    for r in range(repeats):
        net = ctx.net(train=True)
        with paddle.no_grad():
            for name, p in net.named_parameters():
                if p.ndim == 4:
                    p.set_value(paddle.to_tensor(rng.standard_normal(p.shape).astype(np.float32)))
        body = net.blocks[:-1]             # everything before global pooling + FC
        shape = ctx.input_shape()
        x = paddle.to_tensor(rng.standard_normal(shape).astype(np.float32))
        eps = paddle.to_tensor(rng.standard_normal(shape).astype(np.float32))
        rec = StatsRecorder(net)
        with paddle.no_grad():
            f1 = _run(body, x)
            bn_var = {k: float(v.mean()) for k, (_, v) in rec.values.items()}
            f2 = _run(body, x + alpha * eps)
        rec.remove()
        delta = float(paddle.abs(f1 - f2).sum(axis=[1, 2, 3]).mean())
        bn_term = sum(0.5 * np.log(v) for v in bn_var.values() if v > 0)
        scores.append(np.log(delta) + bn_term)
    return float(np.mean(scores))


def _run(layers, x):
    for layer in layers:
        x = layer(x)
    return x
