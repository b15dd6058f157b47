"""Models registered into mmseg's MODELS registry."""

from . import adaptation, losses, segmentors
from .losses import WeightedCrossEntropyLoss, weighted_cross_entropy
from .segmentors import WeightedEncoderDecoder
from .uda import DACS  # also registers UDASegDataPreProcessor

__all__ = [
    "adaptation", "losses", "segmentors", "WeightedCrossEntropyLoss", "WeightedEncoderDecoder",
    "weighted_cross_entropy", "DACS",
]
