"""Shared machinery of the factory-variation augmentations (not a registered transform).

Factory photos differ from a curated training set in lighting, motion blur, contrast,
specular highlights, compression and occluders. Each of these is a registered transform
(``RandomLighting``, ``RandomMotionBlur``, ``RandomLowContrast``, ``RandomSpecularHighlight``,
``RandomJPEGCompression``, ``RandomOcclusion``) usable in any pipeline after
``LoadImageFromFile``: it changes ``results['img']`` with probability ``prob`` and keeps its
shape and dtype (uint8 images are clipped to 0..255). Only ``RandomOcclusion`` touches the
label maps (see its docstring).

Randomness comes from numpy's global generator, which MMEngine seeds per dataloader worker
(``randomness=dict(seed=...)``), so augmented runs are reproducible.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness


def check_range(name: str, value: Sequence[float], low: float = -np.inf,
                high: float = np.inf) -> Tuple[float, float]:
    """Validate a ``(min, max)`` parameter range; raise ValueError naming it."""
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a (min, max) pair, got {value!r}") from exc
    if not low <= a <= b <= high:
        raise ValueError(f"{name} must satisfy {low} <= min <= max <= {high}, got {value!r}")
    return a, b


def restore_dtype(img: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Cast a float image back to ``dtype`` (uint8: rounded and clipped to 0..255)."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(img), info.min, info.max).astype(dtype)
    return img.astype(dtype)


def max_value(dtype: np.dtype) -> float:
    """White level of an image dtype (255 for uint8 and for float images on 0..255)."""
    return float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 255.0


class RandomImageTransform(BaseTransform):
    """Apply :meth:`apply` to ``results['img']`` with probability ``prob``.

    Subclasses implement ``apply(img, results) -> img`` on a float32 copy (values on 0..255;
    ``results`` for transforms that also change labels) and draw
    their parameters inside it from ``np.random``.

    Args:
        prob (float): probability of applying the transform, in [0, 1].
    """

    def __init__(self, prob: float) -> None:
        if not 0.0 <= float(prob) <= 1.0:
            raise ValueError(f"{type(self).__name__}: prob must be in [0, 1], got {prob}")
        self.prob = float(prob)

    @cache_randomness
    def _do_apply(self) -> bool:
        return bool(np.random.rand() < self.prob)

    def apply(self, img: np.ndarray, results: dict) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def transform(self, results: dict) -> dict:
        if not self._do_apply():
            return results
        img = results["img"]
        out = self.apply(img.astype(np.float32), results)
        results["img"] = restore_dtype(out.reshape(img.shape), img.dtype)
        return results

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"
