"""Threshold calibration on labeled data: precision–recall curves and operating points.

Two thresholds decide the verdict (:mod:`mmseg_uda.apis.postprocess`):

* the **pixel threshold** τ on the defect probability 1 − p(background) — chosen on the pixel
  precision–recall curve (best F1, a target recall, or given);
* the **minimum defect area** A (pixels) — chosen on the image-level curve whose score is the
  *area of the largest defect region* of the mask thresholded at τ: an image is "defect" iff
  that area is >= A. A is the largest value that still finds ``target_recall`` of the defective
  images (the most precise such one): a missed defect costs more than a false alarm.

Pixel curves are built from histograms of quantised probabilities, so a whole test set is
summarised in two arrays of ``bins`` counts (exact at the thresholds ``i / bins``).
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence, Tuple

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve

from ..apis.postprocess import largest_defect_region
from ..evaluation.functional import tile_boxes


def probability_histograms(defect_prob: np.ndarray, is_defect: np.ndarray,
                           valid: Optional[np.ndarray] = None,
                           bins: int = 1000) -> Tuple[np.ndarray, np.ndarray]:
    """Counts of defect and background pixels per probability bin ``[i/bins, (i+1)/bins)``.

    Args:
        defect_prob (np.ndarray): (H, W) defect probabilities in [0, 1].
        is_defect (np.ndarray): (H, W) boolean ground truth.
        valid (np.ndarray, optional): (H, W) boolean mask of evaluated pixels. Default: all.
        bins (int): number of bins (1.0 falls into the last). Default: 1000.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(positives, negatives)``, int64 arrays of ``bins``
        counts; sum them over images.
    """
    index = np.clip((np.asarray(defect_prob, np.float64) * bins).astype(np.int64), 0, bins - 1)
    is_defect = np.asarray(is_defect, bool)
    if valid is not None:
        index, is_defect = index[valid], is_defect[valid]
    pos = np.bincount(index[is_defect].ravel(), minlength=bins)
    neg = np.bincount(index[~is_defect].ravel(), minlength=bins)
    return pos.astype(np.int64), neg.astype(np.int64)


def _curve(labels: np.ndarray, scores: np.ndarray,
           weights: Optional[np.ndarray] = None) -> dict:
    precision, recall, thresholds = precision_recall_curve(labels, scores,
                                                           sample_weight=weights)
    # sklearn's last point (precision 1, recall 0) has no threshold: drop it
    precision, recall = precision[:-1], recall[:-1]
    f1 = np.divide(2 * precision * recall, precision + recall,
                   out=np.zeros_like(precision), where=precision + recall > 0)
    return dict(threshold=thresholds.astype(np.float64), precision=precision, recall=recall,
                F1=f1, average_precision=float(average_precision_score(
                    labels, scores, sample_weight=weights)))


def pr_curve_from_histograms(positives: np.ndarray, negatives: np.ndarray) -> dict:
    """Pixel precision–recall curve from :func:`probability_histograms` counts.

    A pixel is predicted defective at threshold ``t`` when its probability is >= ``t``; the
    thresholds are the bin edges ``i / bins`` that hold pixels.

    Args:
        positives (np.ndarray): defect-pixel counts per bin.
        negatives (np.ndarray): background-pixel counts per bin.

    Returns:
        dict: ``threshold``, ``precision``, ``recall``, ``F1`` (arrays, increasing threshold)
        and ``average_precision``.

    Raises:
        ValueError: without any defect pixel (recall is undefined).
    """
    positives, negatives = np.asarray(positives), np.asarray(negatives)
    if positives.sum() == 0:
        raise ValueError("no defect pixels in the calibration set: recall is undefined")
    bins = len(positives)
    edges = np.arange(bins, dtype=np.float64) / bins
    scores = np.concatenate([edges, edges])
    labels = np.concatenate([np.ones(bins, int), np.zeros(bins, int)])
    weights = np.concatenate([positives, negatives]).astype(np.float64)
    keep = weights > 0
    if labels[keep].min() == 1:  # sklearn needs both labels present: add a zero-weight negative
        scores, labels, weights = (np.append(scores[keep], 0.0), np.append(labels[keep], 0),
                                   np.append(weights[keep], 0.0))
    else:
        scores, labels, weights = scores[keep], labels[keep], weights[keep]
    return _curve(labels, scores, weights)


def pr_curve(scores: Sequence[float], labels: Sequence[int]) -> dict:
    """Precision–recall curve of scores (positive when score >= threshold).

    Args:
        scores (Sequence[float]): one score per item (image or tile).
        labels (Sequence[int]): 1 for a defective item, 0 for a good one.

    Returns:
        dict: ``threshold``, ``precision``, ``recall``, ``F1`` (arrays over the distinct
        scores, increasing) and ``average_precision``.
    """
    scores = np.asarray(scores, np.float64)
    labels = np.asarray(labels, int)
    if labels.sum() == 0:
        raise ValueError("no defective items: recall is undefined")
    weights = np.ones(len(labels))
    if labels.min() == 1:  # only positives: a zero-weight negative keeps sklearn happy
        scores, labels, weights = (np.append(scores, scores.min()), np.append(labels, 0),
                                   np.append(weights, 0.0))
    return _curve(labels, scores, weights)


def best_f1_point(curve: dict) -> dict:
    """The operating point with the highest F1 (ties: the higher threshold).

    Args:
        curve (dict): from :func:`pr_curve` or :func:`pr_curve_from_histograms`.

    Returns:
        dict: ``threshold``, ``precision``, ``recall``, ``F1``.
    """
    f1 = curve["F1"]
    best = np.flatnonzero(f1 == f1.max())[-1]
    return _point(curve, best)


def recall_point(curve: dict, target_recall: float, min_threshold: float = -np.inf) -> dict:
    """The most precise threshold that keeps recall >= ``target_recall`` (ties: the higher).

    Args:
        curve (dict): from :func:`pr_curve` or :func:`pr_curve_from_histograms`.
        target_recall (float): required recall, in (0, 1].
        min_threshold (float): thresholds below this are not eligible (e.g. a minimum area
            must be >= 1 pixel). Default: no limit.

    Returns:
        dict: ``threshold``, ``precision``, ``recall``, ``F1`` and ``target_met``. When no
        eligible threshold reaches the target, the eligible one with the highest recall
        (then precision) is returned with ``target_met = False``.
    """
    if not 0.0 < target_recall <= 1.0:
        raise ValueError(f"target recall must be in (0, 1], got {target_recall}")
    thr, precision, recall = curve["threshold"], curve["precision"], curve["recall"]
    eligible = np.flatnonzero(thr >= min_threshold)
    if len(eligible) == 0:
        raise ValueError(f"no threshold >= {min_threshold} on the curve")
    meets = eligible[recall[eligible] >= target_recall - 1e-12]
    if len(meets):
        best_p = precision[meets].max()
        index = meets[precision[meets] >= best_p - 1e-12][-1]
        return dict(_point(curve, index), target_met=True)
    best_r = recall[eligible].max()
    candidates = eligible[recall[eligible] >= best_r - 1e-12]
    index = candidates[np.argmax(precision[candidates])]
    return dict(_point(curve, index), target_met=False)


def _point(curve: dict, index: int) -> dict:
    return dict(threshold=float(curve["threshold"][index]),
                precision=float(curve["precision"][index]),
                recall=float(curve["recall"][index]), F1=float(curve["F1"][index]))


def verdict_items(mask: np.ndarray, label: np.ndarray, tile: Optional[int] = None,
                  ignore_index: int = 255) -> Iterable[Tuple[int, int]]:
    """``(score, is_defective)`` of an image or of each of its tiles.

    The score is the area in pixels of the largest defect region of ``mask`` inside the item;
    the item is defective when its ``label`` has a defect pixel (not counting ``ignore_index``).

    Args:
        mask (np.ndarray): (H, W) predicted class ids (thresholded mask).
        label (np.ndarray): (H, W) true class ids.
        tile (int, optional): score tiles of this side instead of the whole image. Default:
            None.
        ignore_index (int): label value that is neither defect nor background. Default: 255.
    """
    defect = (label > 0) & (label != ignore_index)
    for y1, y2, x1, x2 in tile_boxes(*mask.shape[:2], tile):
        yield largest_defect_region(mask[y1:y2, x1:x2]), int(defect[y1:y2, x1:x2].any())


def curve_for_json(curve: dict, max_points: int = 400, digits: int = 5) -> dict:
    """A curve thinned to at most ``max_points`` points (always keeping both ends), rounded.

    Args:
        curve (dict): a curve of this module.
        max_points (int): most points kept. Default: 400.
        digits (int): decimals kept. Default: 5.
    """
    n = len(curve["threshold"])
    index = np.unique(np.linspace(0, n - 1, min(n, max_points)).round().astype(int))
    return {key: [round(float(v), digits) for v in np.asarray(curve[key])[index]]
            for key in ("threshold", "precision", "recall", "F1")}
