"""Uneven and changing illumination."""

from __future__ import annotations

from typing import Tuple

import numpy as np
from mmseg.registry import TRANSFORMS

from .base import RandomImageTransform, check_range, max_value


@TRANSFORMS.register_module()
class RandomLighting(RandomImageTransform):
    """Random exposure, gamma and a linear illumination gradient (labels untouched).

    With probability ``prob`` the image is multiplied by a ramp ``1 + g * r(x, y)`` (``r``
    goes linearly from -1 to 1 across the image in a random direction, ``g`` drawn from
    ``gradient_range``), then by a brightness factor, then gamma-corrected:
    ``out = white * (in / white) ** gamma``.

    Args:
        prob (float): probability of applying it. Default: 0.5.
        brightness_range (tuple[float, float]): multiplicative brightness factor.
            Default: (0.7, 1.3).
        gamma_range (tuple[float, float]): gamma exponent (< 1 brightens shadows).
            Default: (0.7, 1.5).
        gradient_range (tuple[float, float]): gradient strength ``g`` in [0, 1) (0 = flat
            light; 0.4 = one side 40 % darker, the other 40 % brighter). Default: (0.0, 0.4).
    """

    def __init__(self, prob: float = 0.5, brightness_range: Tuple[float, float] = (0.7, 1.3),
                 gamma_range: Tuple[float, float] = (0.7, 1.5),
                 gradient_range: Tuple[float, float] = (0.0, 0.4)) -> None:
        super().__init__(prob)
        self.brightness_range = check_range("brightness_range", brightness_range, 0.0)
        self.gamma_range = check_range("gamma_range", gamma_range, 1e-3)
        self.gradient_range = check_range("gradient_range", gradient_range, 0.0, 0.999)

    def apply(self, img: np.ndarray, results: dict) -> np.ndarray:
        white = max_value(results["img"].dtype)
        h, w = img.shape[:2]
        strength = np.random.uniform(*self.gradient_range)
        angle = np.random.uniform(0.0, 2.0 * np.pi)
        brightness = np.random.uniform(*self.brightness_range)
        gamma = np.random.uniform(*self.gamma_range)
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        proj = (xs - (w - 1) / 2) * np.cos(angle) + (ys - (h - 1) / 2) * np.sin(angle)
        ramp = proj / max(np.abs(proj).max(), 1e-6)
        gain = (1.0 + strength * ramp) * brightness
        out = img * (gain[..., None] if img.ndim == 3 else gain)
        out = np.clip(out, 0.0, white)
        return white * (out / white) ** gamma
