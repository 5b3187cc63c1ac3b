"""Where networks run: the one `device` setting (auto | cpu | gpu), resolved once."""
from __future__ import annotations

import paddle

from ..errors import UserError


class DeviceError(UserError, RuntimeError):
    """A device that this machine or Paddle build does not have."""


def gpu_available() -> bool:
    return paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0


def resolve(device: str) -> str:
    """"cpu" or "gpu" for a config's `device`: auto takes the GPU when there is one."""
    if device == "auto":
        return "gpu" if gpu_available() else "cpu"
    if device == "gpu" and not gpu_available():
        why = "Paddle is built without CUDA" if not paddle.device.is_compiled_with_cuda() else "no GPU is visible"
        raise DeviceError(f"config key 'device': gpu, but {why} (install Paddle's GPU build, README GPU section)")
    return device


def use(device: str) -> str:
    """Resolve and select the device for this process (under paddle.distributed.launch each
    rank's own GPU, from FLAGS_selected_gpus); returns "cpu" or "gpu"."""
    kind = resolve(device)
    paddle.set_device("gpu" if kind == "gpu" else "cpu")
    return kind


def pick_runtime(choice: str, device: str, on_gpu: str, key: str) -> tuple:
    """(runtime, device kind) for a setting that is `auto`, `static` or a device runtime
    (`key`: the config key, for the message): auto takes `on_gpu` on a GPU and the static
    oneDNN program on the CPU; static runs on the CPU only (refused with device gpu). The
    one rule for stand-alone training (standalone.backend) and scoring (score.engine)."""
    kind = resolve(device)
    if choice == "auto":
        choice = on_gpu if kind == "gpu" else "static"
    if choice == "static":
        if device == "gpu":
            raise DeviceError(f"{key} static runs on the CPU only (oneDNN programs); with device gpu "
                              f"use {key}=auto or {on_gpu}")
        kind = "cpu"
    return choice, kind
