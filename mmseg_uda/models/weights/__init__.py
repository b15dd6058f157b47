"""Pretrained MiT weights: layout conversion and the strict ``MiTPretrained`` initialiser."""

from .mit_converters import (
    CONVERTERS,
    MiTWeightsError,
    convert_huggingface,
    convert_mit_state_dict,
    convert_mmseg,
    convert_segformer,
    detect_mit_layout,
    load_mit_weights,
    read_state_dict,
)
from .mit_pretrained import MiTPretrained

__all__ = [
    "CONVERTERS", "MiTPretrained", "MiTWeightsError", "convert_huggingface",
    "convert_mit_state_dict", "convert_mmseg", "convert_segformer", "detect_mit_layout",
    "load_mit_weights", "read_state_dict",
]
