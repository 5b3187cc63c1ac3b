"""Jacob_cov (Mellor et al. 2020, v1): how decorrelated the input-Jacobians of a batch are.

J_i = d(sum of logits)/d x_i; with the eigenvalues v of their correlation matrix,
score = -sum(log(v + k) + 1 / (v + k)), k = 1e-5.
"""
import numpy as np
import paddle

from .base import PROXIES


@PROXIES.register("jacob_cov", sign=1, needs_net=True)
def jacob_cov(ctx):
    net = ctx.net(train=True)
    x, _ = ctx.batch()
    xt = paddle.to_tensor(x, stop_gradient=False)
    net(xt).sum().backward()
    jac = xt.grad.numpy().reshape(len(x), -1).astype(np.float64)
    corr = np.corrcoef(jac)
    if not np.all(np.isfinite(corr)):
        return float("nan")
    v = np.linalg.eigvalsh(corr)
    k = 1e-5
    return float(-np.sum(np.log(v + k) + 1.0 / (v + k)))
