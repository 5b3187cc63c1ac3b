"""The plain scorer: per candidate, extract (or slice) the sub-network and run the images.
Slow (about a dygraph forward per candidate), exact, and the yardstick of the fast one."""
from __future__ import annotations

import paddle

from ..bn import recalibrate
from .common import metric


class ReferenceScorer:
    def __init__(self, net, images: dict, settings: dict):
        self.net, self.images, self.settings = net, images, settings
        self.x = paddle.to_tensor(images["x"])

    @paddle.no_grad()
    def logits(self, code):
        mode = self.settings["bn"]
        if mode == "running":
            self.net.eval()
            self.net.set_active_subnet(code)
            return self.net(self.x).numpy()
        sub = self.net.get_active_subnet(code)
        if mode == "recal":
            xr, n = self.images["x_recal"], self.settings.get("recal_chunk", 0)
            recalibrate(sub, [xr[a:a + n] for a in range(0, len(xr), n)] if n else [xr])
            sub.eval()
        else:
            sub.train()             # BN normalises with the statistics of the scored batch
        return sub(self.x).numpy()

    def score(self, codes) -> list:
        return [metric(self.logits(c), self.images["y"], self.settings["metric"]) for c in codes]
