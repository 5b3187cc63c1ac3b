"""Which scorer runs where: `score.engine` (auto | static | batched | dygraph), `score.amp`,
`score.recal_chunk` and the top-level `device`, resolved once in the parent process, before
any worker starts, so a combination that cannot run is one line and no work.

auto picks the oneDNN static scorer (scoring/fast.py) on the CPU and the batched device
scorer (scoring/batched.py) on a GPU (or on the CPU when `score.amp` asks for half precision,
which only the batched scorer has). On a GPU a scoring run is one process: under
`python -m paddle.distributed.launch` each rank scores its shard on its own GPU.
"""
from __future__ import annotations

from dataclasses import dataclass

import paddle

from ..runtime import device as devices
from .trained import ScoreError


@dataclass(frozen=True)
class EnginePlan:
    engine: str             # static | batched | dygraph
    device: str             # cpu | gpu: where the scorer runs
    amp: str | None         # None, "float16" or "bfloat16"
    jobs: int               # worker processes

    def describe(self) -> str:
        amp = f", amp {self.amp}" if self.amp else ""
        return f"{self.engine} engine on the {self.device.upper()}{amp}"


def plan_engine(score, device: str, jobs: int) -> EnginePlan:
    """The scorer, device, AMP dtype and worker count for the `score` section and `device`
    setting; ScoreError (one line) for a combination that cannot run."""
    kind = devices.resolve(device)
    engine = score["engine"]
    if engine == "auto":
        engine = "batched" if kind == "gpu" or score["amp"] else "static"
    if engine == "static":
        if device == "gpu":
            raise ScoreError("score.engine=static runs on the CPU only (oneDNN programs); with device gpu "
                             "use score.engine=auto or batched")
        kind = "cpu"
        if score["bn"] == "recal" and score["recal_chunk"]:
            raise ScoreError("score.recal_chunk: the static engine re-estimates BN on all recal_images at once; "
                             "set score.recal_chunk=0 or use score.engine=batched")
    amp = amp_dtype(kind) if score["amp"] else None
    if amp and engine != "batched":
        raise ScoreError(f"score.amp: the {engine} engine runs in float32 only; use score.engine=batched (or auto)")
    # One process per GPU: several on one GPU would each hold the images and the supernet.
    return EnginePlan(engine, kind, amp, 1 if kind == "gpu" else jobs)


def amp_dtype(kind: str) -> str:
    """float16 on a GPU; bfloat16 on a CPU whose Paddle build supports it, else ScoreError
    (Paddle's auto_cast would silently run float32 there)."""
    if kind == "gpu":
        return "float16"
    if paddle.amp.is_bfloat16_supported("cpu"):
        return "bfloat16"
    raise ScoreError("score.amp: Paddle has no bfloat16 kernels on this CPU (they need AVX512-BF16 or AMX); "
                     "set score.amp=false or score on a GPU")
