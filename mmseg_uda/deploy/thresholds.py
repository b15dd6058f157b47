"""Verdict thresholds: defaults, the calibration file, and command-line overrides.

``tools/calibrate.py`` writes ``calibration.json`` (by default beside the checkpoint) with at
least ``{"pixel_threshold": float, "min_area": int}``; ``tools/predict.py`` reads it from there
or from ``--calibration``. Values given on the command line win over the file, the file over the
defaults (0.5 and :data:`DEFAULT_MIN_AREA` pixels).
"""

from __future__ import annotations

import json
import os.path as osp
from dataclasses import asdict, dataclass
from typing import Optional

CALIBRATION_FILE = "calibration.json"
# Smallest defect region (pixels) of the verdict without calibration: the same number as
# mmseg_uda.evaluation.DEFAULT_MIN_AREA (the test report), kept here so that this module needs
# no torch (a test checks they agree).
DEFAULT_MIN_AREA = 16
DEFAULT_PIXEL_THRESHOLD = 0.5


class CalibrationError(ValueError):
    """A calibration file that cannot be used; the message names the file and the key."""


@dataclass
class Thresholds:
    """The two numbers of the verdict rule (see :mod:`mmseg_uda.deploy.postprocess`).

    Args:
        pixel_threshold (float): smallest defect probability (1 − p(background)) of a defect
            pixel, in [0, 1]. Default: 0.5.
        min_area (int): smallest defect region, in pixels, that makes an image "defect".
            Default: 16.
        source (str): where the values come from (``'defaults'``, a calibration file path,
            ``'command line'``). Default: ``'defaults'``.
    """

    pixel_threshold: float = DEFAULT_PIXEL_THRESHOLD
    min_area: int = DEFAULT_MIN_AREA
    source: str = "defaults"

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.pixel_threshold) <= 1.0:
            raise ValueError(f"pixel_threshold must be in [0, 1], got {self.pixel_threshold} "
                             f"({self.source})")
        if int(self.min_area) < 1 or int(self.min_area) != self.min_area:
            raise ValueError(f"min_area must be a whole number of pixels >= 1, got "
                             f"{self.min_area} ({self.source})")
        self.pixel_threshold = float(self.pixel_threshold)
        self.min_area = int(self.min_area)

    def to_dict(self) -> dict:
        return asdict(self)


def default_calibration_path(checkpoint: Optional[str]) -> Optional[str]:
    """``calibration.json`` beside the checkpoint (whether or not it exists); None without one."""
    if not checkpoint:
        return None
    return osp.join(osp.dirname(osp.abspath(checkpoint)), CALIBRATION_FILE)


def load_calibration(path: str) -> Thresholds:
    """Read the thresholds of a calibration file written by ``tools/calibrate.py``.

    Args:
        path (str): the JSON file.

    Raises:
        FileNotFoundError: when the file does not exist.
        CalibrationError: when it is not JSON or lacks / has invalid ``pixel_threshold`` or
            ``min_area``.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f"calibration file not found: {path!r}")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"calibration file {path!r} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CalibrationError(f"calibration file {path!r} must hold a JSON object")
    missing = [k for k in ("pixel_threshold", "min_area") if k not in data]
    if missing:
        raise CalibrationError(f"calibration file {path!r} has no {', '.join(missing)} "
                               "(write it with tools/calibrate.py)")
    try:
        return Thresholds(pixel_threshold=float(data["pixel_threshold"]),
                          min_area=data["min_area"], source=path)
    except (TypeError, ValueError) as exc:
        raise CalibrationError(f"calibration file {path!r}: {exc}") from exc


def resolve_thresholds(checkpoint: Optional[str] = None, calibration: Optional[str] = None,
                       pixel_threshold: Optional[float] = None,
                       min_area: Optional[int] = None) -> Thresholds:
    """The thresholds to use: command line > calibration file > defaults.

    Args:
        checkpoint (str, optional): the model's checkpoint; ``calibration.json`` beside it is
            used when ``calibration`` is not given and the file exists. Default: None.
        calibration (str, optional): an explicit calibration file (must exist). Default: None.
        pixel_threshold (float, optional): overrides the pixel threshold. Default: None.
        min_area (int, optional): overrides the minimum defect area (pixels). Default: None.

    Returns:
        Thresholds: with ``source`` telling where the values came from.
    """
    if calibration:
        base = load_calibration(calibration)
    else:
        beside = default_calibration_path(checkpoint)
        base = load_calibration(beside) if beside and osp.isfile(beside) else Thresholds()
    if pixel_threshold is None and min_area is None:
        return base
    overridden = [name for name, v in (("pixel_threshold", pixel_threshold),
                                       ("min_area", min_area)) if v is not None]
    return Thresholds(
        pixel_threshold=base.pixel_threshold if pixel_threshold is None else pixel_threshold,
        min_area=base.min_area if min_area is None else min_area,
        source=f"command line ({', '.join(overridden)}) over {base.source}")
