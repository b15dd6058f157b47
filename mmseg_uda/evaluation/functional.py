"""Pure per-image statistics behind :class:`~mmseg_uda.evaluation.DefectMetric`.

Everything here takes numpy arrays of one image and returns counts, so that a metric can sum
them over images (and over ranks) and turn the sums into scores at the end.

*Boundary-tolerant matching* (the crack-detection protocol): with a tolerance of ``k`` pixels a
predicted pixel of a class is correct when a ground-truth pixel of that class lies within
Euclidean distance ``k`` of it, and a ground-truth pixel is found when a predicted pixel lies
within ``k`` of it. ``k = 0`` is the strict pixel-wise score. Distances come from
:func:`scipy.ndimage.distance_transform_edt`.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
from scipy import ndimage

# Default smallest defect region (pixels) that makes an image "defect": the verdict of the test
# report and of tools/predict.py when no calibration file says otherwise.
DEFAULT_MIN_AREA = 16
# Columns of the array returned by tolerant_match_counts.
PRED_TOTAL, PRED_MATCHED, GT_TOTAL, GT_MATCHED = range(4)
# Columns of the array returned by tile_verdict_counts.
TILE_TP, TILE_FP, TILE_FN, TILE_TN = range(4)


def distance_to_mask(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance (pixels) of every pixel to the nearest ``True`` pixel of ``mask``.

    Args:
        mask (np.ndarray): (H, W) boolean mask.

    Returns:
        np.ndarray: (H, W) float64 distances; ``inf`` everywhere when ``mask`` is empty.
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return np.full(mask.shape, np.inf)
    return ndimage.distance_transform_edt(~mask)


def tolerant_match_counts(pred: np.ndarray, gt: np.ndarray, tolerances: Sequence[float],
                          valid: Optional[np.ndarray] = None) -> np.ndarray:
    """Matched-pixel counts of one class in one image at several distance tolerances.

    Args:
        pred (np.ndarray): (H, W) boolean mask of the pixels predicted as the class.
        gt (np.ndarray): (H, W) boolean mask of the ground-truth pixels of the class.
        tolerances (Sequence[float]): distances in pixels (0 = strict matching).
        valid (np.ndarray, optional): (H, W) boolean mask of evaluated pixels (False at the
            ignore label); predicted and ground-truth pixels outside it are neither counted
            nor matched. Default: all pixels.

    Returns:
        np.ndarray: int64 array of shape (len(tolerances), 4) with the columns
        ``[pred_total, pred_matched, gt_total, gt_matched]``.
    """
    pred = np.asarray(pred, dtype=bool)
    gt = np.asarray(gt, dtype=bool)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction mask {pred.shape} and ground-truth mask {gt.shape} differ")
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        pred = pred & valid
        gt = gt & valid
    out = np.zeros((len(tolerances), 4), dtype=np.int64)
    out[:, PRED_TOTAL] = pred.sum()
    out[:, GT_TOTAL] = gt.sum()
    if not pred.any() or not gt.any():
        return out  # nothing can match
    to_gt = distance_to_mask(gt)[pred]
    to_pred = distance_to_mask(pred)[gt]
    for i, k in enumerate(tolerances):
        if k < 0:
            raise ValueError(f"tolerance must be >= 0 pixels, got {k}")
        out[i, PRED_MATCHED] = int((to_gt <= k).sum())
        out[i, GT_MATCHED] = int((to_pred <= k).sum())
    return out


def tolerant_scores(counts: np.ndarray) -> dict:
    """Precision, recall and F1 (fractions) from one row of :func:`tolerant_match_counts`.

    Sums over images give the dataset score (pixels pooled over images). A score whose
    denominator is zero is ``nan`` (e.g. precision when nothing was predicted); F1 is 0 when
    exactly one side is empty and ``nan`` when both are.

    Args:
        counts (np.ndarray): ``[pred_total, pred_matched, gt_total, gt_matched]``.

    Returns:
        dict: ``precision``, ``recall``, ``F1``.
    """
    pred_total, pred_matched, gt_total, gt_matched = (float(v) for v in counts)
    precision = pred_matched / pred_total if pred_total > 0 else float("nan")
    recall = gt_matched / gt_total if gt_total > 0 else float("nan")
    if pred_total == 0 and gt_total == 0:
        f1 = float("nan")
    elif pred_total == 0 or gt_total == 0 or precision + recall == 0:
        f1 = 0.0
    else:
        f1 = 2 * precision * recall / (precision + recall)
    return dict(precision=precision, recall=recall, F1=f1)


def largest_region_area(mask: np.ndarray, connectivity: int = 8) -> int:
    """Area in pixels of the largest connected component of a boolean mask (0 if empty).

    Args:
        mask (np.ndarray): (H, W) boolean mask.
        connectivity (int): 4 or 8. Default: 8.
    """
    mask = np.asarray(mask, dtype=np.uint8)
    if not mask.any():
        return 0
    num, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=connectivity)
    return int(stats[1:num, cv2.CC_STAT_AREA].max())


def tile_boxes(height: int, width: int, tile: Optional[int]) -> List[Tuple[int, int, int, int]]:
    """Non-overlapping boxes ``(y1, y2, x1, x2)`` of ``tile`` pixels (the last ones smaller).

    Args:
        height (int): image height in pixels.
        width (int): image width in pixels.
        tile (int, optional): tile side in pixels; None gives the whole image. Default: None.
    """
    if not tile:
        return [(0, height, 0, width)]
    return [(y, min(y + tile, height), x, min(x + tile, width))
            for y in range(0, height, tile) for x in range(0, width, tile)]


def tile_verdict_counts(pred: np.ndarray, gt: np.ndarray, tile: int, min_area: int,
                        tolerance: float = 0, valid: Optional[np.ndarray] = None) -> np.ndarray:
    """OK / defect verdicts of the tiles of one image against the truth: TP, FP, FN, TN.

    The image is cut into non-overlapping ``tile`` x ``tile`` boxes (:func:`tile_boxes`); a tile
    is truly defective when it holds a ground-truth defect pixel. A defective tile is *found*
    when a predicted pixel inside it lies within ``tolerance`` of a true one. An OK tile is a
    *false alarm* when its largest region of predicted pixels farther than ``tolerance`` from
    every true pixel has at least ``min_area`` pixels, so a prediction slightly wider than a
    crack that runs along a tile border does not count: only defects invented on a clean
    surface do. This makes false alarms measurable on sets where every image has a defect
    (CFD) and scales the image-level verdict down to a region a person would inspect. Tiles
    without an evaluated pixel (all ``valid`` False) are skipped.

    Args:
        pred (np.ndarray): (H, W) boolean mask of the pixels predicted as any defect class.
        gt (np.ndarray): (H, W) boolean mask of the true defect pixels.
        tile (int): tile side in pixels (>= 1).
        min_area (int): smallest predicted region (8-connected pixels) that is a false alarm.
        tolerance (float): distance in pixels within which a prediction is attributed to a
            true defect. Default: 0.
        valid (np.ndarray, optional): (H, W) boolean mask of evaluated pixels. Default: all.

    Returns:
        np.ndarray: int64 array ``[TP, FP, FN, TN]`` (columns ``TILE_*`` of this module).
    """
    pred = np.asarray(pred, dtype=bool)
    gt = np.asarray(gt, dtype=bool)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction mask {pred.shape} and ground-truth mask {gt.shape} differ")
    if tile < 1:
        raise ValueError(f"tile must be >= 1 pixel, got {tile}")
    if valid is None:
        valid = np.ones(pred.shape, dtype=bool)
    else:
        valid = np.asarray(valid, dtype=bool)
        pred = pred & valid
        gt = gt & valid
    if gt.any() and pred.any():
        near = distance_to_mask(gt) <= tolerance
    else:
        near = np.zeros(pred.shape, dtype=bool)
    found_px = pred & near
    stray = pred & ~near
    out = np.zeros(4, dtype=np.int64)
    for y1, y2, x1, x2 in tile_boxes(*pred.shape, tile):
        if not valid[y1:y2, x1:x2].any():
            continue
        if gt[y1:y2, x1:x2].any():
            out[TILE_TP if found_px[y1:y2, x1:x2].any() else TILE_FN] += 1
        elif largest_region_area(stray[y1:y2, x1:x2]) >= min_area:
            out[TILE_FP] += 1
        else:
            out[TILE_TN] += 1
    return out
