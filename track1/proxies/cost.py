"""FLOPs (as multiply-accumulates) and trainable parameters, from the analytic cost model."""
from .base import PROXIES


@PROXIES.register("flops", sign=1, needs_net=False)
def flops(ctx):
    return float(ctx.profile.macs(ctx.code))


@PROXIES.register("params", sign=1, needs_net=False)
def params(ctx):
    return float(ctx.profile.params(ctx.code))
