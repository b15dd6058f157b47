"""Adaptation methods beyond DACS: feature alignment (DANN, CORAL, MMD), MIC masking, the
ImageNet feature distance, Tent, and the pure functions behind them."""

from .feature_alignment import CORALAlignment, DANNAlignment, DomainDiscriminator, MMDAlignment
from .functional import (
                         block_mask,
                         coral_loss,
                         dann_coefficient,
                         entropy,
                         grad_reverse,
                         masked_feature_distance,
                         median_bandwidth,
                         mmd_loss,
)
from .tent import configure_tent, norm_parameter_names, tent_adapt

__all__ = [
    "CORALAlignment", "DANNAlignment", "DomainDiscriminator", "MMDAlignment", "block_mask",
    "coral_loss", "dann_coefficient", "entropy", "grad_reverse", "masked_feature_distance",
    "median_bandwidth", "mmd_loss", "configure_tent", "norm_parameter_names", "tent_adapt",
]
