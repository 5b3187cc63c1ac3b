"""GradNorm (Abdelfattah et al. 2021): sum over conv/FC weights of ||dL/dtheta||_2."""
import paddle
import paddle.nn.functional as F

from .base import PROXIES
from .base import weight_layers


@PROXIES.register("grad_norm", sign=1, needs_net=True)
def grad_norm(ctx):
    net = ctx.net(train=True)
    x, y = ctx.batch()
    F.cross_entropy(net(paddle.to_tensor(x)), paddle.to_tensor(y)).backward()
    return sum(float(paddle.linalg.norm(l.weight.grad)) for l in weight_layers(net))
