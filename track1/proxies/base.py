"""What a proxy sees: the seeded network of a code and a seeded batch, plus the scoring call."""
from __future__ import annotations

import math

import numpy as np
import paddle

from ..errors import UserError
from ..models.standalone import StandaloneNet
from ..registry import Registry

PROXIES = Registry("proxy")


class ProxyError(UserError, ValueError):
    """A proxy could not produce a finite score; names the code and the proxy."""


def proxy_settings(proxies, profile) -> dict:
    """The `proxies` section with its image size resolved (null: the profile's)."""
    p = dict(proxies)
    p["image_size"] = p["image_size"] or profile.image_size
    return p


class ProxyContext:
    """Lazily built pieces shared by the proxies of one code: `net()` is a fresh network
    initialised from `seed` (a new one on every call, since proxies modify weights);
    `batch()` is the same seeded batch for every code, so scores compare across codes."""

    def __init__(self, profile, code, seed, settings, data=None):
        self.profile, self.code, self.seed, self.settings = profile, code, seed, settings
        self._data = data

    def net(self, train: bool = True):
        paddle.seed(self.seed)
        net = StandaloneNet(self.profile, self.code)
        net.train() if train else net.eval()
        return net

    def input_shape(self, n=None):
        s = self.settings["image_size"]
        return [n or self.settings["batch_size"], self.profile.in_channels, s, s]

    def batch(self):
        """(x, y) as float32/int64 numpy: real images when data were given, else Gaussian."""
        n = self.settings["batch_size"]
        rng = np.random.default_rng(self.seed)
        if self._data is not None:
            x, y = self._data
            idx = rng.permutation(len(y))[:n]
            x, y = x[idx], y[idx]
            s = self.settings["image_size"]
            if x.shape[-1] != s:
                x = paddle.nn.functional.interpolate(paddle.to_tensor(x), size=[s, s], mode="bilinear").numpy()
            return x, y
        return (rng.standard_normal(self.input_shape()).astype(np.float32),
                rng.integers(0, self.profile.num_classes, n).astype(np.int64))


def weight_layers(net):
    """Conv and FC layers: where the gradient-based proxies sum their saliencies."""
    return [l for l in net.sublayers() if isinstance(l, (paddle.nn.Conv2D, paddle.nn.Linear))]


def score(name, profile, code, seed=0, settings=None, data=None) -> float:
    """sign * raw proxy value; ProxyError if it is not finite."""
    fn = PROXIES.get(name)
    ctx = ProxyContext(profile, code, seed, settings or {}, data)
    raw = float(fn(ctx))
    if not math.isfinite(raw):
        raise ProxyError(f"proxy '{name}' gave {raw} for arch {code} (seed {seed})")
    return PROXIES.meta(name)["sign"] * raw
