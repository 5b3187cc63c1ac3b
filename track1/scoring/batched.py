"""The device scorer (`score.engine: batched`, what `auto` picks on a GPU): the supernet's own
sliced forward (dygraph) on the device, with everything kept there.

Why not the reference scorer on a GPU: it extracts a stand-alone copy of every candidate,
uploads the re-estimation images again for each and reads every BN statistic back to the
host (~50 synchronisations a candidate). Here the scored and re-estimation images are
uploaded once; a candidate is the supernet sliced in place (`set_active_subnet`); BN
statistics are re-estimated on the device in chunks; scores are computed on the device and
read back once per batch of candidates: the only host synchronisations. The forward can
run under AMP (`score.amp`). Equal to the reference scorer within float tolerance (tests,
on CPU). The supernet's running BN statistics are overwritten while scoring (`recal` writes
each candidate's there; `batch` trains BN): a scorer owns its copy of the weights.
"""
from __future__ import annotations

import paddle
import paddle.nn.functional as F

from ..bn import StatsRecorder, bn_layers


class BatchedScorer:
    def __init__(self, net, images: dict, settings: dict, batch: int = 64, recal_chunk: int = 256):
        self.net, self.settings = net, settings
        self.mode, self.metric = settings["bn"], settings["metric"]
        self.batch, self.recal_chunk = batch, recal_chunk
        self.amp = bool(settings.get("amp", False))
        self.x = paddle.to_tensor(images["x"])
        self.y = paddle.to_tensor(images["y"])
        self.x_recal = paddle.to_tensor(images["x_recal"]) if self.mode == "recal" else None
        self._bns = dict(bn_layers(net))

    def score(self, codes) -> list:
        out = []
        for a in range(0, len(codes), self.batch):
            vals = [self._score_one(c) for c in codes[a:a + self.batch]]
            out += [float(v) for v in paddle.stack(vals).numpy()]      # the one sync of the batch
        return out

    @paddle.no_grad()
    def _score_one(self, code):
        net = self.net
        net.set_active_subnet(code)
        if self.mode == "recal":
            self._recalibrate()
        if self.mode == "batch":
            net.train()                  # BN normalises with the statistics of the scored images
        else:
            net.eval()
        with paddle.amp.auto_cast(enable=self.amp):
            logits = net(self.x)
        return device_metric(logits.astype("float32"), self.y, self.metric)

    def _recalibrate(self):
        """BN statistics of the active sub-network from the re-estimation images, in chunks,
        averaged by chunk size (as bn.recalibrate), written into its BN buffers."""
        net = self.net
        rec = StatsRecorder(net)
        sums, n = {}, 0
        net.train()
        try:
            for a in range(0, len(self.x_recal), self.recal_chunk):
                xb = self.x_recal[a:a + self.recal_chunk]
                rec.values.clear()
                with paddle.amp.auto_cast(enable=self.amp):
                    net(xb)
                k = xb.shape[0]
                for name, (m, v) in rec.values.items():
                    m, v = m.astype("float32") * k, v.astype("float32") * k
                    if name in sums:
                        sums[name] = (sums[name][0] + m, sums[name][1] + v)
                    else:
                        sums[name] = (m, v)
                n += k
        finally:
            rec.remove()
        for name, (m, v) in sums.items():
            bn = self._bns[name]
            c = m.shape[0]
            bn._mean[:c] = m / n
            bn._variance[:c] = v / n


def device_metric(logits, y, kind: str):
    """The score of one candidate's logits as a 0-D device tensor (scoring/common.metric on
    the host computes the same in float64)."""
    if kind == "acc":
        return (logits.argmax(axis=1) == y).astype("float32").mean()
    logp = F.log_softmax(logits, axis=1)
    lp = paddle.take_along_axis(logp, y.reshape([-1, 1]), axis=1).reshape([-1])
    return lp.mean() if kind == "neg_loss" else paddle.exp(lp).mean()
