"""Networks of the space: the plain stand-alone model and the weight-sharing supernet."""
from .standalone import StandaloneNet
from .supernet import SuperNet

__all__ = ["StandaloneNet", "SuperNet"]
