"""Washed-out, low-contrast images (haze, dirty optics, under-exposure)."""

from __future__ import annotations

from typing import Tuple

import numpy as np
from mmseg.registry import TRANSFORMS

from .base import RandomImageTransform, check_range


@TRANSFORMS.register_module()
class RandomLowContrast(RandomImageTransform):
    """Reduce contrast around the image mean: ``out = mean + f * (in - mean)`` (labels untouched).

    Args:
        prob (float): probability of applying it. Default: 0.3.
        contrast_range (tuple[float, float]): factor ``f`` in (0, 1] (1 = unchanged).
            Default: (0.4, 0.8).
    """

    def __init__(self, prob: float = 0.3,
                 contrast_range: Tuple[float, float] = (0.4, 0.8)) -> None:
        super().__init__(prob)
        self.contrast_range = check_range("contrast_range", contrast_range, 1e-3, 1.0)

    def apply(self, img: np.ndarray, results: dict) -> np.ndarray:
        factor = np.random.uniform(*self.contrast_range)
        mean = img.mean()
        return mean + factor * (img - mean)
