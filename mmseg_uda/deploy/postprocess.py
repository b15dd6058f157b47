"""From class probabilities to what an inspector reads: mask, defect regions, verdict.

The rules, shared by ``tools/predict.py`` and ``tools/calibrate.py``:

* **defect probability** of a pixel = 1 − p(background) (class 0 is the background);
* **mask**: a pixel is a defect when its defect probability is at least ``pixel_threshold``; its
  class is then the most probable *defect* class (background otherwise). With two classes and
  ``pixel_threshold = 0.5`` this is the arg-max mask;
* **defect regions**: 8-connected components of each defect class in that mask, with their
  bounding box, area and mean / max confidence; regions smaller than ``min_area`` pixels are
  dropped;
* **verdict**: an image is ``'defect'`` when it has at least one region left, ``'OK'``
  otherwise — i.e. when some defect region covers ``min_area`` pixels or more.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import cv2
import numpy as np

DEFECT, OK = "defect", "OK"


def defect_probability(probs: np.ndarray, background_index: int = 0) -> np.ndarray:
    """Per-pixel defect probability ``1 - p(background)``.

    Args:
        probs (np.ndarray): (C, H, W) class probabilities (softmax).
        background_index (int): channel of the background class. Default: 0.

    Returns:
        np.ndarray: (H, W) float32 in [0, 1].
    """
    return np.clip(1.0 - probs[background_index], 0.0, 1.0).astype(np.float32)


def threshold_mask(probs: np.ndarray, pixel_threshold: float = 0.5,
                   background_index: int = 0) -> np.ndarray:
    """Class-id mask: the most probable defect class where the defect probability is high enough.

    Args:
        probs (np.ndarray): (C, H, W) class probabilities.
        pixel_threshold (float): smallest defect probability of a defect pixel, in [0, 1].
            Default: 0.5.
        background_index (int): channel of the background class. Default: 0.

    Returns:
        np.ndarray: (H, W) uint8 class ids.
    """
    if not 0.0 <= pixel_threshold <= 1.0:
        raise ValueError(f"pixel_threshold must be in [0, 1], got {pixel_threshold}")
    num_classes = probs.shape[0]
    defect_ids = np.array([c for c in range(num_classes) if c != background_index])
    best = defect_ids[np.argmax(probs[defect_ids], axis=0)]
    is_defect = defect_probability(probs, background_index) >= pixel_threshold
    return np.where(is_defect, best, background_index).astype(np.uint8)


def defect_regions(mask: np.ndarray, probs: Optional[np.ndarray] = None,
                   class_names: Optional[Sequence[str]] = None, min_area: int = 1,
                   background_index: int = 0, connectivity: int = 8) -> List[dict]:
    """Connected regions of every defect class in a class-id mask.

    Args:
        mask (np.ndarray): (H, W) integer class ids.
        probs (np.ndarray, optional): (C, H, W) class probabilities, for the confidences.
            Default: None (confidences are omitted).
        class_names (Sequence[str], optional): names by class id. Default: ``'class<i>'``.
        min_area (int): smallest region kept, in pixels. Default: 1.
        background_index (int): class id that is not a defect. Default: 0.
        connectivity (int): 4 or 8 (pixels touching at a corner belong together). Default: 8.

    Returns:
        list[dict]: regions sorted by decreasing area, each with ``class``, ``class_id``,
        ``bbox`` ``[x, y, width, height]`` in pixels (x to the right, y down, top-left pixel
        included), ``area`` (pixels), ``centroid`` ``[x, y]`` and, with ``probs``,
        ``mean_confidence`` / ``max_confidence`` (the class probability over the region's
        pixels).
    """
    mask = np.asarray(mask)
    regions = []
    for class_id in np.unique(mask):
        class_id = int(class_id)
        if class_id == background_index:
            continue
        binary = (mask == class_id).astype(np.uint8)
        num, labels, stats, centroids = cv2.connectedComponentsWithStats(
            binary, connectivity=connectivity)
        for i in range(1, num):
            area = int(stats[i, cv2.CC_STAT_AREA])
            if area < min_area:
                continue
            x, y, w, h = (int(stats[i, k]) for k in (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP,
                                                     cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT))
            region = dict(
                **{"class": class_names[class_id] if class_names else f"class{class_id}"},
                class_id=class_id, bbox=[x, y, w, h], area=area,
                centroid=[round(float(centroids[i][0]), 2), round(float(centroids[i][1]), 2)])
            if probs is not None:
                inside = labels[y:y + h, x:x + w] == i
                conf = probs[class_id, y:y + h, x:x + w][inside]
                region["mean_confidence"] = round(float(conf.mean()), 4)
                region["max_confidence"] = round(float(conf.max()), 4)
            regions.append(region)
    regions.sort(key=lambda r: (-r["area"], r["bbox"][1], r["bbox"][0]))
    return regions


def largest_defect_region(mask: np.ndarray, background_index: int = 0,
                          connectivity: int = 8) -> int:
    """Area (pixels) of the largest connected region of one defect class (0 when none).

    This is the image score of the verdict: the image is ``'defect'`` exactly when it is at
    least ``min_area``.

    Args:
        mask (np.ndarray): (H, W) class ids.
        background_index (int): class id that is not a defect. Default: 0.
        connectivity (int): 4 or 8. Default: 8.
    """
    regions = defect_regions(mask, min_area=1, background_index=background_index,
                             connectivity=connectivity)
    return regions[0]["area"] if regions else 0


def image_verdict(regions: Sequence[dict], min_area: int) -> str:
    """``'defect'`` when a region has at least ``min_area`` pixels, else ``'OK'``.

    Args:
        regions (Sequence[dict]): regions from :func:`defect_regions`.
        min_area (int): smallest defect region that makes the image defective, in pixels.
    """
    return DEFECT if any(r["area"] >= min_area for r in regions) else OK
