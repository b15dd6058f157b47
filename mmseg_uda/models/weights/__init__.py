"""Pretrained MiT weights: layout conversion and the strict ``MiTPretrained`` initialiser."""

from .mit_converters import (
    CONVERTERS,
    MIT_SIZES,
    MiTWeightsError,
    architecture_name,
    convert_huggingface,
    convert_mit_state_dict,
    convert_mmseg,
    convert_segformer,
    detect_mit_layout,
    infer_architecture,
    load_mit_weights,
    read_state_dict,
    save_mit_weights,
)
from .mit_pretrained import MiTPretrained

__all__ = [
    "CONVERTERS", "MIT_SIZES", "MiTPretrained", "MiTWeightsError", "architecture_name",
    "convert_huggingface", "convert_mit_state_dict", "convert_mmseg", "convert_segformer",
    "detect_mit_layout", "infer_architecture", "load_mit_weights", "read_state_dict",
    "save_mit_weights",
]
