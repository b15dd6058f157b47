"""Models registered into mmseg's MODELS registry (and the MiT weight initialiser)."""

from . import adaptation, backbones, decode_heads, losses, pretrain, segmentors, uda, utils, weights
from .backbones import MixVisionTransformerSDPA
from .decode_heads import DAFormerHead, HRDAHead
from .losses import WeightedCrossEntropyLoss, weighted_cross_entropy
from .pretrain import DenseVICReg, SimMIM
from .segmentors import HRDAEncoderDecoder, WeightedEncoderDecoder
from .uda import DACS  # also registers UDASegDataPreProcessor
from .weights import MiTPretrained, load_mit_weights

__all__ = [
    "DACS", "DAFormerHead", "DenseVICReg", "HRDAEncoderDecoder", "HRDAHead", "MiTPretrained",
    "MixVisionTransformerSDPA", "SimMIM", "WeightedCrossEntropyLoss", "WeightedEncoderDecoder",
    "adaptation", "backbones", "decode_heads", "load_mit_weights", "losses", "pretrain",
    "segmentors",
    "uda", "utils", "weighted_cross_entropy", "weights",
]
