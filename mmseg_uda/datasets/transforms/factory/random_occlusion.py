"""Partial occlusion by foreign objects (tools, hands, cables, dirt)."""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
from mmseg.registry import TRANSFORMS

from .base import RandomImageTransform, check_range

SHAPES = ("ellipse", "rectangle", "polygon")


@TRANSFORMS.register_module()
class RandomOcclusion(RandomImageTransform):
    """Paint one or more opaque occluders over the image and relabel what they hide.

    Each occluder is a random ellipse, rotated rectangle or polygon covering a fraction of the
    image drawn from ``area_range``, filled with a random flat colour plus texture noise.

    **Labels.** A label map must describe what the image shows. Under an occluder no defect
    is visible, so by default the occluded pixels of every label map in ``seg_fields`` are set
    to ``occluded_label=0`` (background): the model must not be taught to "see" a crack
    through an object, and it learns that occluder edges — strong, crack-like gradients — are
    not defects (with 255 = ignore, occluder edges would get no supervision at all and could
    become false positives). Use ``occluded_label=255`` to ignore them instead, or ``None``
    to leave the labels untouched (only sensible for a semi-transparent use).

    Args:
        prob (float): probability of applying it. Default: 0.3.
        num_range (tuple[int, int]): number of occluders (inclusive). Default: (1, 1).
        area_range (tuple[float, float]): area of each occluder as a fraction of the image
            area (approximate for polygons). Default: (0.02, 0.12).
        shapes (Sequence[str]): shapes to draw from (``'ellipse'``, ``'rectangle'``,
            ``'polygon'``). Default: all three.
        occluded_label (int, optional): label given to occluded pixels; None keeps labels.
            Default: 0 (background).
        noise_std (float): standard deviation of the occluder's texture noise in grey levels.
            Default: 8.0.
    """

    def __init__(self, prob: float = 0.3, num_range: Tuple[int, int] = (1, 1),
                 area_range: Tuple[float, float] = (0.02, 0.12),
                 shapes: Sequence[str] = SHAPES, occluded_label: Optional[int] = 0,
                 noise_std: float = 8.0) -> None:
        super().__init__(prob)
        low, high = check_range("num_range", num_range, 1.0)
        self.num_range = (int(low), int(high))
        self.area_range = check_range("area_range", area_range, 1e-4, 1.0)
        bad = [s for s in shapes if s not in SHAPES]
        if bad or not shapes:
            raise ValueError(f"shapes must be a non-empty subset of {SHAPES}, got {shapes!r}")
        self.shapes = tuple(shapes)
        if occluded_label is not None and not 0 <= int(occluded_label) <= 255:
            raise ValueError(f"occluded_label must be a class id in 0..255 or None, got "
                             f"{occluded_label!r}")
        self.occluded_label = None if occluded_label is None else int(occluded_label)
        self.noise_std = float(noise_std)

    def occluder_mask(self, h: int, w: int) -> np.ndarray:
        """A random (h, w) uint8 mask, 1 inside the occluders."""
        mask = np.zeros((h, w), np.uint8)
        for _ in range(np.random.randint(self.num_range[0], self.num_range[1] + 1)):
            area = np.random.uniform(*self.area_range) * h * w
            shape = self.shapes[np.random.randint(len(self.shapes))]
            cx, cy = np.random.uniform(0, w), np.random.uniform(0, h)
            aspect = np.random.uniform(0.3, 1.0)
            angle = np.random.uniform(0, 180)
            if shape == "ellipse":
                a = np.sqrt(area / (np.pi * aspect))
                cv2.ellipse(mask, (int(cx), int(cy)), (max(1, int(a)), max(1, int(a * aspect))),
                            angle, 0, 360, 1, -1)
            elif shape == "rectangle":
                a = np.sqrt(area / aspect)
                box = cv2.boxPoints(((cx, cy), (a, a * aspect), angle))
                cv2.fillPoly(mask, [np.round(box).astype(np.int32)], 1)
            else:
                n = np.random.randint(5, 9)
                r = np.sqrt(area / np.pi) * np.random.uniform(0.6, 1.4, n)
                t = np.sort(np.random.uniform(0, 2 * np.pi, n))
                pts = np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1)
                cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
        return mask

    def apply(self, img: np.ndarray, results: dict) -> np.ndarray:
        h, w = img.shape[:2]
        mask = self.occluder_mask(h, w).astype(bool)
        channels = img.shape[2] if img.ndim == 3 else 1
        colour = np.random.uniform(0, 255, channels).astype(np.float32)
        texture = np.random.normal(0.0, self.noise_std, (h, w, 1)).astype(np.float32)
        fill = np.clip(colour[None, None] + texture, 0, 255)
        out = img.reshape(h, w, channels).copy()
        out[mask] = fill[mask]
        if self.occluded_label is not None:
            for key in results.get("seg_fields", []) or ["gt_seg_map"]:
                if key in results and results[key] is not None:
                    seg = results[key].copy()
                    seg[mask] = self.occluded_label
                    results[key] = seg
        return out.reshape(img.shape)
