"""Zero-cost proxies: score an untrained (or analytic) network; bigger = better after `sign`.

Each proxy is one small module registering `fn(ctx) -> float` with `sign` (+1 if a larger
raw value predicts higher accuracy, -1 otherwise) and `needs_net`. `score(name, ...)`
returns sign * raw, so every proxy ranks the same way.
"""
from .base import PROXIES, ProxyContext, ProxyError, proxy_settings, score  # noqa: F401
from . import cost, fisher, grad_norm, jacob_cov, naswot, snip, synflow, zen  # noqa: F401,E402  (they register)
