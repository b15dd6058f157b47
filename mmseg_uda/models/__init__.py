"""Models registered into mmseg's MODELS registry."""

from . import backbones, decode_heads, losses, segmentors, utils
from .backbones import MixVisionTransformerSDPA
from .decode_heads import DAFormerHead, HRDAHead
from .losses import WeightedCrossEntropyLoss, weighted_cross_entropy
from .segmentors import HRDAEncoderDecoder, WeightedEncoderDecoder

__all__ = [
    "DAFormerHead", "HRDAEncoderDecoder", "HRDAHead", "MixVisionTransformerSDPA",
    "WeightedCrossEntropyLoss", "WeightedEncoderDecoder", "backbones", "decode_heads", "losses",
    "segmentors", "utils", "weighted_cross_entropy",
]
