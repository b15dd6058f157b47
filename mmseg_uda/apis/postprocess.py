"""Mask / region / verdict rules; they live in :mod:`mmseg_uda.deploy.postprocess` (torch-free,
shared with the ONNX runner) and are re-exported here for the inference API."""

from ..deploy.postprocess import (  # noqa: F401
    DEFECT,
    OK,
    defect_probability,
    defect_regions,
    image_verdict,
    largest_defect_region,
    threshold_mask,
)
