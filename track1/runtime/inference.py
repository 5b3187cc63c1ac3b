"""Evaluating one network: its logits on batches, BN re-estimation, its weights in and out.
`StaticInference` runs eval and statistics programs in an engine's runtime (the weights the
engine trains, no copy); `DygraphInference` runs the dygraph network itself."""
from __future__ import annotations

import numpy as np
import paddle

from ..bn import recalibrate
from .static import StaticRuntime, bn_stats_program, net_input, plain_layout_hooks, recalibrate_static


class StaticInference:
    def __init__(self, runtime: StaticRuntime, make_net, input_shape, layout_fix: bool = True):
        self.runtime, self.make_net, self.input_shape, self.layout_fix = runtime, make_net, list(input_shape), layout_fix
        self._stats, self._stat_names = bn_stats_program(make_net, input_shape, layout_fix)

    def _eval_program(self):
        net = self.make_net()
        net.eval()
        if self.layout_fix:
            plain_layout_hooks(net)
        return net, [net(net_input(self.input_shape))]

    def predict(self, x) -> np.ndarray:
        return self.runtime.run("eval", self._eval_program, {"x": x})[0]

    def recalibrate_bn(self, batches) -> int:
        return recalibrate_static(self.runtime, "bn_stats", self._stats, self._stat_names, batches)

    def get_state(self) -> dict:
        return self.runtime.get_state()

    def set_state(self, state: dict):
        self.runtime.set_state(state, strict=True)


class DygraphInference:
    def __init__(self, net):
        self.net = net

    @paddle.no_grad()
    def predict(self, x) -> np.ndarray:
        self.net.eval()
        return self.net(paddle.to_tensor(x)).numpy()

    def recalibrate_bn(self, batches) -> int:
        return recalibrate(self.net, batches)

    def get_state(self) -> dict:
        return {k: v.numpy() for k, v in self.net.state_dict().items()}

    def set_state(self, state: dict):
        self.net.set_state_dict({k: paddle.to_tensor(np.asarray(v, np.float32)) for k, v in state.items()})


def evaluate(model, batches, keep: list | None = None) -> dict:
    """Top-1 accuracy and mean cross-entropy (no label smoothing) over (x, y) batches of a
    model with `predict(x) -> logits`. `keep`, a list, receives each batch's float64 logits."""
    correct = total = 0
    loss_sum = 0.0
    for x, y in batches:
        logits = model.predict(x).astype(np.float64)
        if keep is not None:
            keep.append(logits)
        correct += int((logits.argmax(1) == y).sum())
        z = logits - logits.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        loss_sum += float(-logp[np.arange(len(y)), y].sum())
        total += len(y)
    if total == 0:
        raise ValueError("evaluate: no images to evaluate on")
    return {"acc": correct / total, "loss": loss_sum / total, "n": total}
