"""cmrlib: CMR (AAAI 2021) and the methods it is compared with, on a torchvision ResNet.

    >>> import cmrlib
    >>> model = cmrlib.build_model("cmr", num_classes=174, num_segments=8)
"""
from cmrlib.models import METHODS, build_model

__all__ = ["METHODS", "build_model"]
__version__ = "0.1.0"
