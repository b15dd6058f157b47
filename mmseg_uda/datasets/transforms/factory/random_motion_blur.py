"""Motion blur of a moving part or a shaking camera."""

from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np
from mmseg.registry import TRANSFORMS

from .base import RandomImageTransform, check_range


def motion_kernel(length: int, angle_deg: float) -> np.ndarray:
    """Normalised line kernel of ``length`` pixels at ``angle_deg`` degrees (odd size)."""
    size = length if length % 2 == 1 else length + 1
    kernel = np.zeros((size, size), np.float32)
    c = (size - 1) / 2
    dx, dy = np.cos(np.deg2rad(angle_deg)), np.sin(np.deg2rad(angle_deg))
    half = (length - 1) / 2
    p0 = (int(round(c - half * dx)), int(round(c - half * dy)))
    p1 = (int(round(c + half * dx)), int(round(c + half * dy)))
    cv2.line(kernel, p0, p1, 1.0, 1)
    return kernel / kernel.sum()


@TRANSFORMS.register_module()
class RandomMotionBlur(RandomImageTransform):
    """Linear motion blur of random length and direction (labels untouched).

    Args:
        prob (float): probability of applying it. Default: 0.3.
        length_range (tuple[int, int]): blur length in pixels (inclusive). Default: (3, 9).
        angle_range (tuple[float, float]): motion direction in degrees. Default: (0, 180).
    """

    def __init__(self, prob: float = 0.3, length_range: Tuple[int, int] = (3, 9),
                 angle_range: Tuple[float, float] = (0.0, 180.0)) -> None:
        super().__init__(prob)
        low, high = check_range("length_range", length_range, 1.0)
        self.length_range = (int(low), int(high))
        self.angle_range = check_range("angle_range", angle_range)

    def apply(self, img: np.ndarray, results: dict) -> np.ndarray:
        length = int(np.random.randint(self.length_range[0], self.length_range[1] + 1))
        angle = float(np.random.uniform(*self.angle_range))
        if length <= 1:
            return img
        return cv2.filter2D(img, -1, motion_kernel(length, angle),
                            borderType=cv2.BORDER_REFLECT_101)
