"""Inference API: load a trained model, predict defects on images, write inspection outputs.

See :mod:`mmseg_uda.apis.inference` for the model protocol (logits and an optional attention
map) and :mod:`mmseg_uda.apis.postprocess` for the mask / region / verdict rules.
"""

from .batch import FOLDERS, predict_files
from .embeddings import extract_embeddings
from .files import ImageReadError, list_images, load_image, prepare_output_dir, unique_stems
from .inference import (
    attention_map,
    inference_outputs,
    init_model,
    predict_image,
    predict_logits,
    preprocess,
    sliding_windows,
)
from .postprocess import (
    DEFECT,
    OK,
    defect_probability,
    defect_regions,
    image_verdict,
    largest_defect_region,
    threshold_mask,
)
from .thresholds import (
    CALIBRATION_FILE,
    CalibrationError,
    Thresholds,
    default_calibration_path,
    load_calibration,
    resolve_thresholds,
)
from .visualize import colorize, heatmap, overlay, panel

__all__ = [
    "CALIBRATION_FILE", "DEFECT", "FOLDERS", "OK", "CalibrationError", "ImageReadError",
    "Thresholds", "attention_map", "colorize", "default_calibration_path", "defect_probability",
    "defect_regions", "extract_embeddings", "heatmap", "image_verdict", "inference_outputs",
    "init_model", "largest_defect_region", "list_images", "load_calibration", "load_image",
    "overlay", "panel", "predict_files", "predict_image", "predict_logits", "prepare_output_dir",
    "preprocess", "resolve_thresholds", "sliding_windows", "threshold_mask", "unique_stems",
]
