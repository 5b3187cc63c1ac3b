"""Paddle's diagnostics that are no use to a track1 user, silenced in one place.

Imported by `track1/__init__`, so every tool, test and worker process gets it before it
imports Paddle. Not silenced here: the line `ReduceMeanCheckIfOneDNNSupport` that Paddle
3.3's C++ code writes to fd 1, once per `mean` op each time a static program is built with
oneDNN on (a leftover debug print, removed upstream; no flag or log level reaches it). Only
redirecting fd 1 at the OS level would hide it, which would also swallow or reorder the
tools' own output; writing such a mean as `x.sum(axis) * (1 / n)` avoids the op and the line.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import sys
import threading
import warnings


def install():
    # Paddle's C++ INFO and WARNING lines; glog reads this once, when Paddle starts.
    os.environ.setdefault("GLOG_minloglevel", "2")
    # Warned at import time about a C++ compiler cache track1 never uses, and on every
    # static-graph build about two API details that do not apply to this code.
    warnings.filterwarnings("ignore", message="No ccache found")
    warnings.filterwarnings("ignore", message="When training, we now always track global mean and variance")
    warnings.filterwarnings("ignore", message="Tensor do not have 'place' interface for pir graph mode")
    # auto_cast on a CPU: said once by the training engine instead of at every step.
    warnings.filterwarnings("ignore", message="amp_guard can only be enabled on CUDAPlace")
    if "paddle" in sys.modules:
        _after_paddle_import()
    elif not any(isinstance(f, _PaddleImportHook) for f in sys.meta_path):
        # Importing Paddle here would cost every tool seconds, also those that never use it.
        sys.meta_path.insert(0, _PaddleImportHook())


def _after_paddle_import():
    """Give SIGTERM back to Python. Paddle's C++ failure handler also takes SIGTERM and
    answers a plain `kill` with a "C++ Traceback ... FatalError: `Termination signal`"
    dump, though nothing failed. Python's own handling is restored: the process just ends
    (exit 143), or runs a handler set from Python before Paddle was imported (e.g.
    `parallel.worker_pool`'s). Paddle's dump on real crashes (SIGSEGV, SIGABRT) is kept;
    `paddle.disable_signal_handler()` would drop those too."""
    if threading.current_thread() is not threading.main_thread():
        return                          # signal.signal works only there
    handler = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, signal.SIG_DFL if handler is None else handler)


class _PaddleImportHook:
    """An import hook that runs `_after_paddle_import` once `import paddle` has finished,
    then takes itself out of sys.meta_path."""

    def __init__(self):
        self._finding = False

    def find_spec(self, name, path=None, target=None):
        if name != "paddle" or self._finding:
            return None
        self._finding = True            # the real finders locate Paddle; this one steps aside
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._finding = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run, hook = spec.loader.exec_module, self

        def exec_module(module):
            run(module)
            _after_paddle_import()
            if hook in sys.meta_path:
                sys.meta_path.remove(hook)

        # Patched on this loader instance only (it serves this one module), so the module's
        # __loader__ stays Paddle's own.
        spec.loader.exec_module = exec_module
        return spec

    def invalidate_caches(self):
        pass
