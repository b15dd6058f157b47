"""Self-supervised pretraining of the segmentors' MiT backbone (``tools/pretrain.py``):
masked image modelling (``SimMIM``) and a dense joint-embedding objective (``DenseVICReg``)."""

from .dense_vicreg import DenseVICReg, covariance_term, variance_term, view_grid
from .masking import (
    masked_l1,
    patch_normalize,
    random_patch_mask,
    token_mask,
    upsample_mask,
    valid_pixels,
)
from .simmim import SimMIM

__all__ = ["DenseVICReg", "SimMIM", "covariance_term", "masked_l1", "patch_normalize",
           "random_patch_mask", "token_mask", "upsample_mask", "valid_pixels", "variance_term",
           "view_grid"]
