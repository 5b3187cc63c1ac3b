"""track1: weight-sharing NAS for the CVPR 2022 NAS Track 1 search space, on PaddlePaddle 3."""
__version__ = "0.1.0"

import warnings as _warnings

# Paddle warns at import time about a C++ compiler cache that track1 never uses.
_warnings.filterwarnings("ignore", message="No ccache found")
