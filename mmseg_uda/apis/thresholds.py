"""Verdict thresholds and calibration files; they live in :mod:`mmseg_uda.deploy.thresholds`
(torch-free, shared with the ONNX runner) and are re-exported here for the inference API."""

from ..deploy.thresholds import (  # noqa: F401
    CALIBRATION_FILE,
    DEFAULT_MIN_AREA,
    DEFAULT_PIXEL_THRESHOLD,
    CalibrationError,
    Thresholds,
    default_calibration_path,
    load_calibration,
    resolve_thresholds,
)
