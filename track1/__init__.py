"""track1: weight-sharing NAS for the CVPR 2022 NAS Track 1 search space, on PaddlePaddle 3."""
__version__ = "0.1.0"

from . import quiet as _quiet

# Before anything imports Paddle: its log level, warnings and signal handling (track1.quiet).
_quiet.install()
