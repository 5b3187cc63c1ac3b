"""track1: weight-sharing NAS for the CVPR 2022 NAS Track 1 search space, on PaddlePaddle 3."""
__version__ = "0.1.0"

from . import quiet as _quiet

# Before anything imports Paddle: its log level, warnings and signal handling (track1.quiet).
_quiet.install()

import os as _os

if "TRACK1_WORKER_PARENT" in _os.environ:
    # A worker process of track1.parallel.worker_pool, starting: tie it to its parent before it
    # imports Paddle and the rest of its task (track1.parallel.arm_worker).
    from .parallel import arm_worker as _arm_worker
    _arm_worker()
