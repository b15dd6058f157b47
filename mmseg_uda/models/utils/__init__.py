"""Pure tensor functions of the HRDA segmentor (crop boxes, window tiling, scale fusion)."""

from .crop_boxes import (
    CropBox,
    check_aligned,
    crop_divisor,
    pad_to_multiple,
    sample_crop_box,
)
from .scale_fusion import fuse_scales, upsample_to
from .sliding_windows import merge_windows, sliding_windows, stack_windows

__all__ = [
    "CropBox", "check_aligned", "crop_divisor", "fuse_scales", "merge_windows",
    "pad_to_multiple", "sample_crop_box", "sliding_windows", "stack_windows", "upsample_to",
]
