"""Models registered into mmseg's MODELS registry."""

from . import decode_heads, losses, segmentors, utils
from .decode_heads import DAFormerHead, HRDAHead
from .losses import WeightedCrossEntropyLoss, weighted_cross_entropy
from .segmentors import HRDAEncoderDecoder, WeightedEncoderDecoder

__all__ = [
    "DAFormerHead", "HRDAEncoderDecoder", "HRDAHead", "decode_heads", "losses", "segmentors",
    "utils", "WeightedCrossEntropyLoss", "WeightedEncoderDecoder", "weighted_cross_entropy",
]
