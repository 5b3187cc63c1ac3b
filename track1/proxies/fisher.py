"""Fisher (Theis et al. 2018; channel saliency as in Turner et al. 2020): for every ReLU
output a, sum over channels of (1/2) * mean over the batch of (sum over space of a * dL/da)^2.
The square is per sample, as in the papers: summing over the batch first lets the samples'
terms cancel (version 1 did that)."""
import paddle
import paddle.nn.functional as F

from ..models.blocks import ACTIVATION_LAYERS
from .base import PROXIES


@PROXIES.register("fisher", sign=1, needs_net=True, version=2)
def fisher(ctx):
    net = ctx.net(train=True)
    x, y = ctx.batch()
    acts, handles = [], []

    def hook(layer, inp, out):
        out.retain_grads()
        acts.append(out)

    for layer in net.sublayers():
        if isinstance(layer, ACTIVATION_LAYERS):
            handles.append(layer.register_forward_post_hook(hook))
    F.cross_entropy(net(paddle.to_tensor(x)), paddle.to_tensor(y)).backward()
    for h in handles:
        h.remove()
    total = 0.0
    for a in acts:
        if a.grad is None:
            continue
        per_channel = (a * a.grad).sum(axis=[2, 3])          # (batch, channels)
        total += float((0.5 * (per_channel ** 2).mean(axis=0)).sum())
    return total
