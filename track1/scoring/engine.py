"""Which scorer runs where: `score.engine` (auto | static | batched | dygraph), `score.amp`,
`score.recal_chunk` and the top-level `device`, resolved once in the parent process, before
any worker starts, so a combination that cannot run is one line and no work.

auto picks the oneDNN static scorer (scoring/fast.py) on the CPU and the batched device
scorer (scoring/batched.py) on a GPU. `score.amp` (float16) is the batched scorer's on a GPU
only: Paddle 3's dygraph auto_cast does nothing on a CPU (it warns and runs float32, with or
without bfloat16 kernels), so a CPU run asking for it is refused rather than labelled half
precision. On a GPU a scoring run is one process: under
`python -m paddle.distributed.launch` each rank scores its shard on its own GPU.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..runtime import device as devices
from .trained import ScoreError


@dataclass(frozen=True)
class EnginePlan:
    engine: str             # static | batched | dygraph
    device: str             # cpu | gpu: where the scorer runs
    amp: str | None         # None or the autocast dtype ("float16")
    jobs: int               # worker processes

    def describe(self) -> str:
        amp = f", amp {self.amp}" if self.amp else ""
        return f"{self.engine} engine on the {self.device.upper()}{amp}"


def plan_engine(score, device: str, jobs: int) -> EnginePlan:
    """The scorer, device, AMP dtype and worker count for the `score` section and `device`
    setting; ScoreError (one line) for a combination that cannot run."""
    engine, kind = devices.pick_runtime(score["engine"], device, "batched", "score.engine")
    if engine == "static":
        if score["bn"] == "recal" and score["recal_chunk"]:
            raise ScoreError("score.recal_chunk: the static engine re-estimates BN on all recal_images at once; "
                             "set score.recal_chunk=0 or use score.engine=batched")
    amp = amp_dtype(kind) if score["amp"] else None
    if amp and engine != "batched":
        raise ScoreError(f"score.amp: the {engine} engine runs in float32 only; use score.engine=batched (or auto)")
    # One process per GPU: several on one GPU would each hold the images and the supernet.
    return EnginePlan(engine, kind, amp, 1 if kind == "gpu" else jobs)


def amp_dtype(kind: str) -> str:
    """float16 on a GPU; on a CPU ScoreError (Paddle's dygraph auto_cast runs float32 there)."""
    if kind == "gpu":
        return "float16"
    raise ScoreError("score.amp: Paddle's mixed precision runs on GPUs only (on a CPU auto_cast has no effect); "
                     "set score.amp=false or score on a GPU")
