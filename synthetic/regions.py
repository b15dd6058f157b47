"""Shape and contrast of labelled defect regions, per connected component of a class mask.

Used by ``tools/generated_vs_real.py --stats`` to compare generated defects with real labelled
ones class by class: are the generated regions the size, shape and darkness of the real ones?

For class ``k`` of an image, the regions are the 8-connected components of ``mask == k``
(``cv2.connectedComponentsWithStats``). Per component :func:`region_stats` measures

* ``area`` (pixels), ``area_fraction`` (of the image's pixels), ``eq_diameter`` (the diameter
  of the disc of the same area) and ``eq_diameter_rel`` (that diameter over the image's shorter
  side: comparable between images of different sizes);
* ``elongation``: major over minor axis of the component, from the second central moments of
  its pixels, each pixel counted as a unit square (variance 1/12 added on both axes), so a
  disc gives ~1 and a straight 1-pixel line of ``L`` pixels gives ``L``;
* ``grey_in``: mean luminance (BT.601, :func:`synthetic.measure.luminance`) inside, and
  ``contrast``: ``grey_in`` minus the mean luminance of a ring around the component (the
  component dilated by ``ring_width`` pixels, ``max(3, 0.25 * eq_diameter)`` capped at
  :data:`RING_CAP`, less the component and less every other labelled pixel: defects of any
  class and ignored pixels). Negative: darker than its surround. ``None`` without a ring
  (a component covering its whole neighbourhood).

Pixels labelled ``ignore_index`` (255) belong to no class and are left out of the ring.
:func:`summarise` reduces the components of many images to medians and percentiles.

Plain numpy/OpenCV.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np

from .measure import luminance

#: Largest ring width in pixels (large regions: the surround is measured near the rim).
RING_CAP = 15
#: Smallest ring width in pixels.
RING_MIN = 3


def check_pair(image: np.ndarray, mask: np.ndarray, num_classes: int | None = None,
               ignore_index: int | None = 255) -> None:
    """Raise ``ValueError`` unless ``mask`` is a 2-D class-id map of ``image``'s size.

    With ``num_classes`` (``K``), values other than ``0..K`` and ``ignore_index`` are an
    error that lists them.
    """
    if mask.ndim != 2:
        raise ValueError(f"mask must be a single-channel class-id map, got shape {mask.shape}")
    if image.shape[:2] != mask.shape:
        raise ValueError(f"image is {image.shape[1]}x{image.shape[0]} (WxH) but its mask is "
                         f"{mask.shape[1]}x{mask.shape[0]}")
    if num_classes is not None:
        values = np.unique(mask)
        bad = [int(v) for v in values if v > num_classes and v != ignore_index]
        if bad:
            ignore = f"; {ignore_index} = ignore" if ignore_index is not None else ""
            raise ValueError(f"class ids {bad} beyond the {num_classes} classes "
                             f"(0 = background, 1..{num_classes}{ignore})")


def ring_width(eq_diameter: float) -> int:
    """Width of the surround ring of a component of equivalent diameter ``eq_diameter``."""
    return int(min(RING_CAP, max(RING_MIN, round(0.25 * eq_diameter))))


def elongation(component: np.ndarray) -> float:
    """Major / minor axis ratio of a binary component from its second central moments."""
    m = cv2.moments(component.astype(np.uint8), binaryImage=True)
    if m["m00"] <= 0:
        raise ValueError("empty component")
    # Each pixel is a unit square: its own variance 1/12 on both axes.
    vxx = m["mu20"] / m["m00"] + 1.0 / 12.0
    vyy = m["mu02"] / m["m00"] + 1.0 / 12.0
    vxy = m["mu11"] / m["m00"]
    half_trace = 0.5 * (vxx + vyy)
    root = math.sqrt(max(0.0, 0.25 * (vxx - vyy) ** 2 + vxy ** 2))
    major, minor = half_trace + root, max(half_trace - root, 1e-12)
    return math.sqrt(major / minor)


def region_stats(image: np.ndarray, mask: np.ndarray, k: int,
                 ignore_index: int | None = 255) -> list[dict[str, Any]]:
    """Per-component statistics of class ``k`` in one image (see the module docstring).

    Args:
        image: uint8/float BGR (H, W, 3) or grey (H, W) image.
        mask: (H, W) class ids; ``ignore_index`` marks unlabelled pixels.
        k: Class id.
        ignore_index: Ignored label value (never a region, not part of any ring).

    Returns:
        One dict per 8-connected component of ``mask == k``, in label order: ``area``,
        ``area_fraction``, ``eq_diameter``, ``eq_diameter_rel``, ``elongation``, ``grey_in``,
        ``grey_ring``, ``contrast`` (``None`` without ring pixels), ``ring_width``, ``bbox``
        (x, y, w, h) and ``centroid`` (x, y).
    """
    check_pair(image, mask)
    lum = luminance(image)
    h, w = mask.shape
    labelled = mask != 0  # defects of every class and ignored pixels: never surround
    count, labels, boxes, centroids = cv2.connectedComponentsWithStats(
        (mask == k).astype(np.uint8), connectivity=8)
    out = []
    for idx in range(1, count):
        x, y, bw, bh, area = (int(v) for v in boxes[idx])
        eq_d = math.sqrt(4.0 * area / math.pi)
        r = ring_width(eq_d)
        x0, y0, x1, y1 = max(0, x - r), max(0, y - r), min(w, x + bw + r), min(h, y + bh + r)
        comp = labels[y0:y1, x0:x1] == idx
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        grown = cv2.dilate(comp.astype(np.uint8), kernel).astype(bool)
        ring = grown & ~labelled[y0:y1, x0:x1]
        window = lum[y0:y1, x0:x1]
        grey_in = float(window[comp].mean())
        grey_ring = float(window[ring].mean()) if ring.any() else None
        out.append({
            "area": area,
            "area_fraction": area / float(h * w),
            "eq_diameter": eq_d,
            "eq_diameter_rel": eq_d / min(h, w),
            "elongation": elongation(comp),
            "grey_in": grey_in,
            "grey_ring": grey_ring,
            "contrast": None if grey_ring is None else grey_in - grey_ring,
            "ring_width": r,
            "bbox": [x, y, bw, bh],
            "centroid": [float(centroids[idx][0]), float(centroids[idx][1])],
        })
    return out


def image_record(image: np.ndarray, mask: np.ndarray, num_classes: int,
                 ignore_index: int | None = 255) -> dict[str, Any]:
    """Checks ``image``/``mask`` and measures the components of every class ``1..K``.

    Returns:
        ``{"height", "width", "valid_pixels" (not ignored), "components": {k: [...]}}``.

    Raises:
        ValueError: On a size mismatch or class ids beyond ``num_classes``.
    """
    check_pair(image, mask, num_classes, ignore_index)
    lum = luminance(image)  # once for every class
    valid = mask.size if ignore_index is None else int(np.count_nonzero(mask != ignore_index))
    return {
        "height": int(mask.shape[0]),
        "width": int(mask.shape[1]),
        "valid_pixels": valid,
        "components": {k: region_stats(lum, mask, k, ignore_index)
                       for k in range(1, num_classes + 1)},
    }


def _median(values: Sequence[float]) -> float | None:
    return float(np.median(values)) if len(values) else None


def summarise(records: Sequence[Mapping[str, Any]], k: int) -> dict[str, Any]:
    """Class ``k`` over the :func:`image_record` s of one domain.

    Returns:
        ``images`` (all), ``images_with_class``, ``components``, ``components_per_image``
        (median over the images holding ``k``), ``area_px`` (``median``, ``p10``, ``p90``),
        ``area_fraction``, ``eq_diameter_px``, ``eq_diameter_rel``, ``elongation``,
        ``contrast``, ``grey_in`` (medians over the components; ``contrast`` over those with
        a ring, ``contrast_components`` of them), and ``pixel_share`` (class-``k`` pixels
        over all non-ignored pixels of the domain). Medians of nothing are ``None``.
    """
    comps = [c for r in records for c in r["components"].get(k, [])]
    per_image = [len(r["components"].get(k, [])) for r in records]
    per_image = [n for n in per_image if n]
    areas = np.array([c["area"] for c in comps], np.float64)
    contrasts = [c["contrast"] for c in comps if c["contrast"] is not None]
    valid = sum(r["valid_pixels"] for r in records)
    return {
        "images": len(records),
        "images_with_class": len(per_image),
        "components": len(comps),
        "components_per_image": _median(per_image),
        "area_px": {
            "median": _median(areas),
            "p10": float(np.percentile(areas, 10)) if len(areas) else None,
            "p90": float(np.percentile(areas, 90)) if len(areas) else None,
        },
        "area_fraction": _median([c["area_fraction"] for c in comps]),
        "eq_diameter_px": _median([c["eq_diameter"] for c in comps]),
        "eq_diameter_rel": _median([c["eq_diameter_rel"] for c in comps]),
        "pixel_share": float(areas.sum() / valid) if valid else None,
        "elongation": _median([c["elongation"] for c in comps]),
        "contrast": _median(contrasts),
        "contrast_components": len(contrasts),
        "grey_in": _median([c["grey_in"] for c in comps]),
    }


def size_summary(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Image sizes of a domain: distinct sizes, median width/height and shorter side."""
    if not records:
        return {"distinct": 0, "median_width": None, "median_height": None,
                "short_side": {"min": None, "median": None, "max": None}}
    widths = [r["width"] for r in records]
    heights = [r["height"] for r in records]
    short = [min(r["width"], r["height"]) for r in records]
    return {
        "distinct": len({(r["width"], r["height"]) for r in records}),
        "median_width": float(np.median(widths)),
        "median_height": float(np.median(heights)),
        "short_side": {"min": int(min(short)), "median": float(np.median(short)),
                       "max": int(max(short))},
    }
