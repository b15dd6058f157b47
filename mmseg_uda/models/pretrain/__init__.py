"""Self-supervised pretraining of the segmentors' MiT backbone (``tools/pretrain.py``)."""

from .masking import (
    masked_l1,
    patch_normalize,
    random_patch_mask,
    token_mask,
    upsample_mask,
    valid_pixels,
)
from .simmim import SimMIM

__all__ = ["SimMIM", "masked_l1", "patch_normalize", "random_patch_mask", "token_mask",
           "upsample_mask", "valid_pixels"]
