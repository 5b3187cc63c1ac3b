"""Zero-cost proxies: score an untrained (or analytic) network; bigger = better after `sign`.

Each proxy is one small module registering `fn(ctx) -> float` with `sign` (+1 if a larger
raw value predicts higher accuracy, -1 otherwise) and `needs_net`. `score(name, ...)`
returns sign * raw, so every proxy ranks the same way.
"""
from ..registry import Registry

PROXIES = Registry("proxy")

from . import cost, fisher, grad_norm, jacob_cov, naswot, snip, synflow, zen  # noqa: E402,F401
from .base import ProxyContext, ProxyError, proxy_settings, score  # noqa: E402,F401
