"""The device scorer (`score.engine: batched`, what `auto` picks on a GPU): the supernet's own
sliced forward (dygraph) on the device, with everything kept there.

Why not the reference scorer on a GPU: it extracts a stand-alone copy of every candidate,
uploads the re-estimation images again for each and reads every BN statistic back to the
host (~50 synchronisations a candidate). Here the scored and re-estimation images are
uploaded once; a candidate is the supernet sliced in place (`set_active_subnet`); BN
statistics are re-estimated on the device; scores are computed on the device and read back
once per batch of candidates: the only host synchronisations. The forward can run under AMP
(`score.amp`: float16, on a GPU).

BN modes, each what the reference scorer computes: `batch` normalises every candidate with
the statistics of its scored images (one forward of all of them, in train mode); `recal`
re-estimates them on the recal images (one forward of all of them, or, with
`score.recal_chunk` N, chunks of N images whose statistics are averaged by size, as
bn.recalibrate does), then scores in eval mode; `running` uses the supernet's. Eval-mode
forwards are split into `eval_chunk` images (per-image results: float rounding only).
Equal to the reference scorer within float tolerance (tests, on CPU). The supernet's running
BN statistics are overwritten while scoring (`recal` writes each candidate's there, `batch`
trains BN): a scorer owns its copy of the weights.
"""
from __future__ import annotations

import paddle

from ..bn import batch_stats, bn_layers


class BatchedScorer:
    def __init__(self, net, images: dict, settings: dict, batch: int = 64, amp: str | None = None,
                 eval_chunk: int = 256):
        """`net`: a supernet on the current device; `batch`: candidates per read-back; `amp`:
        the autocast dtype (None: float32; with settings["amp"] and no dtype given, the
        current device's: scoring/engine.amp_dtype)."""
        self.net = net
        self.mode, self.metric = settings["bn"], settings["metric"]
        self.batch, self.eval_chunk = batch, eval_chunk
        self.recal_chunk = settings.get("recal_chunk", 0)
        if amp is None and settings.get("amp"):
            from .engine import amp_dtype
            amp = amp_dtype("gpu" if paddle.device.get_device().startswith("gpu") else "cpu")
        self.amp = amp
        self.x = paddle.to_tensor(images["x"])
        self.y = paddle.to_tensor(images["y"]).astype("int64")
        self.x_recal = paddle.to_tensor(images["x_recal"]) if self.mode == "recal" else None
        self._bns = dict(bn_layers(net))
        self._stats = None          # {name: (mean, var)} of the recalibration forward in progress
        if self.mode == "recal":
            for name, layer in self._bns.items():
                layer.register_forward_pre_hook(self._recorder(name))

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
        if self.mode == "batch":
            net.train()                  # BN normalises with the statistics of the scored images
            logits = self._forward(self.x)
        else:
            if self.mode == "recal":
                self._recalibrate()
            net.eval()
            n = self.eval_chunk
            logits = paddle.concat([self._forward(self.x[a:a + n]) for a in range(0, self.x.shape[0], n)])
        return device_metric(logits, self.y, self.metric)

    def _forward(self, x):
        with paddle.amp.auto_cast(enable=self.amp is not None, dtype=self.amp or "float16", level="O1"):
            out = self.net(x)
        return out.astype("float32")

    def _recorder(self, name):
        def hook(layer, inputs):
            if self._stats is not None:
                x = inputs[0]
                self._stats[name] = batch_stats(x if x.dtype == paddle.float32 else x.astype("float32"))
        return hook

    def _recalibrate(self):
        """BN statistics of the active sub-network from the re-estimation images (all at once,
        or chunks averaged by chunk size, as bn.recalibrate), written into its BN buffers."""
        net, x = self.net, self.x_recal
        n_all = x.shape[0]
        step = self.recal_chunk or n_all
        sums = {}
        net.train()
        try:
            for a in range(0, n_all, step):
                xb = x[a:a + step]
                self._stats = {}
                self._forward(xb)
                k = xb.shape[0]
                for name, (m, v) in self._stats.items():
                    if name in sums:
                        sums[name] = (sums[name][0] + m * k, sums[name][1] + v * k)
                    else:
                        sums[name] = (m * k, v * k)
        finally:
            self._stats = None
        for name, (m, v) in sums.items():
            bn = self._bns[name]
            c = m.shape[0]
            bn._mean[:c] = m / n_all
            bn._variance[:c] = v / n_all


def device_metric(logits, y, kind: str):
    """The score of one candidate's logits as a 0-D device tensor (scoring/common.metric on
    the host computes the same in float64)."""
    if kind == "acc":
        return (logits.argmax(axis=1) == y).astype("float32").mean()
    # By hand: Paddle's CPU log_softmax saturates near -64 (float32 softmax underflows), and
    # a poorly calibrated candidate's logits reach thousands.
    z = logits - logits.max(axis=1, keepdim=True)
    lp = paddle.take_along_axis(z, y.reshape([-1, 1]), axis=1).reshape([-1]) - paddle.log(paddle.exp(z).sum(axis=1))
    return lp.mean() if kind == "neg_loss" else paddle.exp(lp).mean()
