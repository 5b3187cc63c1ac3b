"""NAR, the Neural Architecture Ranker (Guo et al. 2022), for this search space: a predictor
baseline, a fast surrogate for the candidates and a tier-guided sampler of good codes.

Track 1's rule 6 forbids predictor-made accuracies in an official submission: NAR's output
is for analysis and search; tools/predict.py (the supernet) makes submissions."""
from .encoding import encode, N_TOKENS, N_FEATURES  # noqa: F401
from .model import NAR  # noqa: F401
from .fit import NARError, fit, load, save  # noqa: F401
from .model import predict  # noqa: F401
from .sampler import TierHistograms, propose  # noqa: F401
