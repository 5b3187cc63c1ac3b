"""SNIP (Lee et al. 2019): sum over conv/FC weights of |theta * dL/dtheta| on one batch."""
import paddle
import paddle.nn.functional as F

from .base import PROXIES
from .base import weight_layers


@PROXIES.register("snip", sign=1, needs_net=True)
def snip(ctx):
    net = ctx.net(train=True)
    x, y = ctx.batch()
    F.cross_entropy(net(paddle.to_tensor(x)), paddle.to_tensor(y)).backward()
    return sum(float(paddle.abs(l.weight * l.weight.grad).sum()) for l in weight_layers(net))
