"""Choose the verdict thresholds of a model on labeled images (the work of tools/calibrate.py).

See :mod:`mmseg_uda.analysis.calibration` for the rule: the pixel threshold from the pixel
precision–recall curve, then the minimum defect area from the image- (or tile-) level curve of
the largest-region score so that ``target_recall`` of the defective images are found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
import torch.nn as nn
from tqdm import tqdm

from ..analysis.calibration import (
    best_f1_point,
    curve_for_json,
    pr_curve,
    pr_curve_from_histograms,
    probability_histograms,
    recall_point,
    verdict_items,
)
from .files import ImageReadError, load_image
from .inference import predict_logits

PIXEL_RULES = ("f1", "recall")


@dataclass
class CalibrationData:
    """What calibration keeps of each labeled image (compact: no full probability maps).

    Attributes:
        positives (np.ndarray): defect-pixel counts per probability bin (summed).
        negatives (np.ndarray): background-pixel counts per probability bin (summed).
        defect_prob (list[np.ndarray]): per image (H, W) float16 defect probability.
        best_class (list[np.ndarray]): per image (H, W) uint8 most probable defect class.
        labels (list[np.ndarray]): per image (H, W) uint8 true class ids.
        images (list[str]): image paths.
        errors (list[dict]): skipped files ``{image, error}``.
    """

    positives: np.ndarray
    negatives: np.ndarray
    defect_prob: List[np.ndarray] = field(default_factory=list)
    best_class: List[np.ndarray] = field(default_factory=list)
    labels: List[np.ndarray] = field(default_factory=list)
    images: List[str] = field(default_factory=list)
    errors: List[dict] = field(default_factory=list)

    def mask(self, i: int, pixel_threshold: float) -> np.ndarray:
        """Thresholded class-id mask of image ``i`` (the rule of ``threshold_mask``)."""
        return np.where(self.defect_prob[i].astype(np.float32) >= pixel_threshold,
                        self.best_class[i], 0).astype(np.uint8)


def read_mask(path: str) -> np.ndarray:
    """A single-channel uint8 class-id mask; ImageReadError naming the file otherwise."""
    mask = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise ImageReadError(f"cannot read mask file {path!r}")
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise ImageReadError(f"mask {path!r} must be a single-channel uint8 PNG of class ids, "
                             f"got shape {mask.shape} dtype {mask.dtype}")
    return mask


def collect_calibration_data(model: nn.Module, samples: Sequence[Tuple[str, str]],
                             window: Optional[int] = None, stride: Optional[int] = None,
                             bins: int = 1000, ignore_index: int = 255,
                             progress: bool = True) -> CalibrationData:
    """Predict every labeled image and keep what the threshold choice needs.

    Args:
        model (nn.Module): a model from :func:`~mmseg_uda.apis.init_model`.
        samples (Sequence[tuple[str, str]]): ``(image path, mask path)`` pairs.
        window (int, optional): sliding-window tile side in pixels. Default: None.
        stride (int, optional): tile step in pixels. Default: ``window // 2``.
        bins (int): probability bins of the pixel curve. Default: 1000.
        ignore_index (int): mask value excluded from the pixel counts. Default: 255.
        progress (bool): tqdm progress bar. Default: True.

    Returns:
        CalibrationData: unreadable pairs are listed in ``errors`` and skipped.
    """
    data = CalibrationData(np.zeros(bins, np.int64), np.zeros(bins, np.int64))
    for img_path, mask_path in tqdm(samples, desc="calibrate", unit="img", disable=not progress):
        try:
            img = load_image(img_path)
            label = read_mask(mask_path)
            if label.shape != img.shape[:2]:
                raise ImageReadError(f"mask {mask_path!r} is {label.shape[::-1]} (WxH) but "
                                     f"image {img_path!r} is {img.shape[1::-1]}")
            logits = predict_logits(model, img, window=window, stride=stride)["logits"]
        except Exception as exc:  # skip one bad pair, keep calibrating
            data.errors.append(dict(image=img_path, error=f"{type(exc).__name__}: {exc}"))
            continue
        probs = torch.softmax(logits, dim=1)[0].numpy()
        defect_prob = np.clip(1.0 - probs[0], 0.0, 1.0)
        valid = label != ignore_index
        pos, neg = probability_histograms(defect_prob, label > 0, valid, bins)
        data.positives += pos
        data.negatives += neg
        data.defect_prob.append(defect_prob.astype(np.float16))
        data.best_class.append((1 + np.argmax(probs[1:], axis=0)).astype(np.uint8))
        data.labels.append(label)
        data.images.append(img_path)
    return data


def calibrate_thresholds(data: CalibrationData, target_recall: float = 0.95,
                         pixel_rule: Union[str, float] = "f1", tile: Optional[int] = None,
                         ignore_index: int = 255) -> Tuple[dict, dict]:
    """Pixel threshold and minimum defect area, with the curves behind them.

    Args:
        data (CalibrationData): from :func:`collect_calibration_data`.
        target_recall (float): share of defective images (tiles) that must be found, in
            (0, 1]. Default: 0.95.
        pixel_rule (str | float): ``'f1'`` (pixel threshold of the best pixel F1),
            ``'recall'`` (the most precise one with pixel recall >= ``target_recall``) or a
            fixed threshold in [0, 1]. Default: ``'f1'``.
        tile (int, optional): score tiles of this side (pixels) instead of whole images — for
            sets where every image holds a defect (no good images to measure false alarms on).
            Default: None.
        ignore_index (int): mask value that is neither defect nor background. Default: 255.

    Returns:
        tuple[dict, dict]: the calibration (JSON-ready: ``pixel_threshold``, ``min_area`` —
        what predict.py reads —, ``target_recall``, ``pixel_level`` and ``image_level`` with
        operating point, average precision, thinned curve and counts, ``warnings``) and the full
        curves ``{'pixel': ..., 'item': ...}`` for plotting.
    """
    if not data.images:
        raise ValueError("no labeled image could be read: nothing to calibrate on")
    warnings: List[str] = []
    pixel_curve = pr_curve_from_histograms(data.positives, data.negatives)
    if isinstance(pixel_rule, str):
        if pixel_rule not in PIXEL_RULES:
            raise ValueError(f"pixel_rule must be one of {PIXEL_RULES} or a number, got "
                             f"{pixel_rule!r}")
        point = best_f1_point(pixel_curve) if pixel_rule == "f1" else \
            recall_point(pixel_curve, target_recall)
    else:
        tau = float(pixel_rule)
        if not 0.0 <= tau <= 1.0:
            raise ValueError(f"pixel threshold must be in [0, 1], got {tau}")
        # the curve point of the first bin edge >= tau
        index = int(np.searchsorted(pixel_curve["threshold"], tau - 1e-12))
        index = min(index, len(pixel_curve["threshold"]) - 1)
        point = {k: float(pixel_curve[k][index])
                 for k in ("threshold", "precision", "recall", "F1")}
        point["threshold"] = tau
    tau = point["threshold"]

    scores, truth = [], []
    for i in range(len(data.images)):
        for score, defective in verdict_items(data.mask(i, tau), data.labels[i], tile,
                                              ignore_index):
            scores.append(score)
            truth.append(defective)
    scores, truth = np.asarray(scores), np.asarray(truth)
    unit = f"tile {tile}x{tile} px" if tile else "image"
    num_pos, num_neg = int(truth.sum()), int((1 - truth).sum())
    if num_pos == 0:
        raise ValueError(f"no defective {unit} in the calibration set: the minimum area "
                         "cannot be calibrated for recall")
    if num_neg == 0:
        warnings.append(f"every {unit} of the set is defective: the false-alarm rate "
                        "(precision) is not measured, the minimum area only keeps recall >= "
                        "target; use --tile-size or add defect-free images")
    item_curve = pr_curve(scores, truth)
    item_point = recall_point(item_curve, target_recall, min_threshold=1)
    if not item_point["target_met"]:
        warnings.append(
            f"no minimum area >= 1 px reaches recall {target_recall:.2f}: "
            f"{int(((scores == 0) & (truth == 1)).sum())} of {num_pos} defective items "
            f"({unit}) have no predicted defect pixel at p >= {tau:.3f}; using min area "
            f"{item_point['threshold']:.0f} px (recall {item_point['recall']:.3f}). "
            "Lower the pixel threshold (--pixel-threshold recall or a number)")
    min_area = int(max(1, item_point["threshold"]))
    predicted = scores >= min_area
    calibration = dict(
        pixel_threshold=round(tau, 6), min_area=min_area, target_recall=target_recall,
        verdict_rule=("defect when a connected region of one defect class, of pixels with "
                      "defect probability (1 - p(background)) >= pixel_threshold, has at least "
                      "min_area pixels"),
        pixel_level=dict(rule=pixel_rule, **point,
                         average_precision=pixel_curve["average_precision"],
                         num_defect_pixels=int(data.positives.sum()),
                         num_background_pixels=int(data.negatives.sum()),
                         curve=curve_for_json(pixel_curve)),
        image_level=dict(
            unit=unit, score="largest_region_area_px", **item_point,
            average_precision=item_curve["average_precision"], num_defective=num_pos,
            num_ok=num_neg, TP=int((predicted & (truth == 1)).sum()),
            FP=int((predicted & (truth == 0)).sum()), FN=int((~predicted & (truth == 1)).sum()),
            TN=int((~predicted & (truth == 0)).sum()), curve=curve_for_json(item_curve)),
        num_images=len(data.images), errors=data.errors, warnings=warnings)
    return calibration, dict(pixel=pixel_curve, item=item_curve)
