"""track1: weight-sharing NAS for the CVPR 2022 NAS Track 1 search space, on PaddlePaddle 3."""
__version__ = "0.1.0"

import warnings as _warnings

# Paddle warns at import time about a C++ compiler cache that track1 never uses, and on
# every static-graph build about two API details that do not apply to this code.
_warnings.filterwarnings("ignore", message="No ccache found")
_warnings.filterwarnings("ignore", message="When training, we now always track global mean and variance")
_warnings.filterwarnings("ignore", message="Tensor do not have 'place' interface for pir graph mode")
