"""Scale jitter relative to each image's own size."""

from __future__ import annotations

from typing import Tuple

import numpy as np
from mmcv.transforms import BaseTransform, Resize
from mmcv.transforms.utils import cache_randomness
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomRescale(BaseTransform):
    """Resize by a random factor of the image's current size (aspect ratio kept).

    mmcv's ``RandomResize`` fits images into a fixed target scale, which changes the pixel
    width of thin defects from one image size to the next. This keeps the native pixel scale
    and only jitters it.

    Required keys: ``img``; modified keys: ``img``, ``img_shape``, ``gt_seg_map`` (nearest
    interpolation); added keys: ``scale_factor``, ``keep_ratio``.

    Args:
        ratio_range (tuple[float, float]): the factor is drawn uniformly from this range.
            Default: (0.75, 1.25).
        interpolation (str): image interpolation (mmcv name). Default: ``'bilinear'``.
    """

    def __init__(self, ratio_range: Tuple[float, float] = (0.75, 1.25),
                 interpolation: str = "bilinear") -> None:
        low, high = (float(r) for r in ratio_range)
        if not 0 < low <= high:
            raise ValueError(f"ratio_range must satisfy 0 < low <= high, got {ratio_range}")
        self.ratio_range = (low, high)
        self.interpolation = interpolation

    @cache_randomness
    def _sample_ratio(self) -> float:
        return float(np.random.uniform(*self.ratio_range))

    def transform(self, results: dict) -> dict:
        ratio = self._sample_ratio()
        resize = Resize(scale_factor=ratio, keep_ratio=True, interpolation=self.interpolation)
        return resize(results)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ratio_range={self.ratio_range})"
