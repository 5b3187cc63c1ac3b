"""The code version recorded with every result: package version and git commit."""
from __future__ import annotations

import functools
import subprocess

from . import __version__
from .config import REPO


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, timeout=5).stdout.strip()
        # --no-optional-locks: `git status` refreshes the index under .git/index.lock, and a
        # tool killed (kill -9 of its group, the timeout here) during the call would leave
        # that lock behind, refusing the user's every later git command in the checkout.
        dirty = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO, capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha, dirty = "", ""
    if not sha:
        return __version__
    return f"{__version__}+{sha}{'.dirty' if dirty else ''}"


@functools.lru_cache(maxsize=1)
def host_cpu() -> str:
    """The CPU a result was computed on, e.g. "AMD EPYC, avx512f, 2 cpus". The same seed and
    protocol give bit-identical results on one machine and across machines whose oneDNN
    dispatches the same kernels (an Intel and an AMD AVX-512 CPU agreed), not between AVX2 and
    AVX-512 (measured: benchmarks/isa_probe.sh, BENCHMARKS.md), so every GT run records it."""
    import os
    import platform
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    simd = next((f for f in ("avx512f", "avx2", "avx", "neon", "asimd") if f in flags), "")
    # A cap on oneDNN's kernels changes the results as the CPU's own ISA does (measured:
    # benchmarks/isa_probe.sh), so it is part of where a result was computed. oneDNN reads
    # the value case-blind. Only the widest vector ISA is named: the fp32 kernels of an
    # AMX-capable Intel Xeon and a Zen 4 (no AMX) agreed to the last digit.
    cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "").upper()
    return ", ".join(x for x in (model, simd, f"{os.cpu_count()} cpus", cap and f"oneDNN capped at {cap}") if x)
