"""Specular reflections of lamps on glossy or metallic surfaces."""

from __future__ import annotations

from typing import Tuple

import numpy as np
from mmseg.registry import TRANSFORMS

from .base import RandomImageTransform, check_range, max_value


@TRANSFORMS.register_module()
class RandomSpecularHighlight(RandomImageTransform):
    """Bright elliptical glare spots blended towards white (labels untouched).

    Each spot is an anisotropic Gaussian ``s(x, y)`` in [0, 1] at a random position and
    orientation; the image becomes ``in + (white - in) * intensity * s``.

    Args:
        prob (float): probability of applying it. Default: 0.3.
        num_range (tuple[int, int]): number of spots (inclusive). Default: (1, 3).
        radius_range (tuple[float, float]): spot radius (Gaussian sigma of the long axis) as
            a fraction of the image's shorter side. Default: (0.03, 0.15).
        aspect_range (tuple[float, float]): short/long axis ratio. Default: (0.2, 1.0).
        intensity_range (tuple[float, float]): peak blend towards white, in [0, 1].
            Default: (0.5, 1.0).
    """

    def __init__(self, prob: float = 0.3, num_range: Tuple[int, int] = (1, 3),
                 radius_range: Tuple[float, float] = (0.03, 0.15),
                 aspect_range: Tuple[float, float] = (0.2, 1.0),
                 intensity_range: Tuple[float, float] = (0.5, 1.0)) -> None:
        super().__init__(prob)
        low, high = check_range("num_range", num_range, 1.0)
        self.num_range = (int(low), int(high))
        self.radius_range = check_range("radius_range", radius_range, 1e-3, 1.0)
        self.aspect_range = check_range("aspect_range", aspect_range, 1e-2, 1.0)
        self.intensity_range = check_range("intensity_range", intensity_range, 0.0, 1.0)

    def apply(self, img: np.ndarray, results: dict) -> np.ndarray:
        white = max_value(results["img"].dtype)
        h, w = img.shape[:2]
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        glare = np.zeros((h, w), np.float32)
        for _ in range(np.random.randint(self.num_range[0], self.num_range[1] + 1)):
            cx, cy = np.random.uniform(0, w), np.random.uniform(0, h)
            sigma = np.random.uniform(*self.radius_range) * min(h, w)
            sigma_short = sigma * np.random.uniform(*self.aspect_range)
            theta = np.random.uniform(0, np.pi)
            intensity = np.random.uniform(*self.intensity_range)
            u = (xs - cx) * np.cos(theta) + (ys - cy) * np.sin(theta)
            v = -(xs - cx) * np.sin(theta) + (ys - cy) * np.cos(theta)
            spot = np.exp(-0.5 * ((u / sigma) ** 2 + (v / sigma_short) ** 2))
            glare = np.maximum(glare, intensity * spot)
        if img.ndim == 3:
            glare = glare[..., None]
        return img + (white - img) * glare
