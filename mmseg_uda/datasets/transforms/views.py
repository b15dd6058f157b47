"""Two overlapping views of one image for joint-embedding self-supervised pretraining.

A dense joint-embedding objective (``DenseVICReg``) compares the features of the *same*
surface point seen in two differently cropped, scaled, flipped and lit views. This transform
draws the two views and records where each lies in the original image, so that the model can
match their feature cells.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform, Compose
from mmcv.transforms.utils import cache_randomness
from mmseg.registry import TRANSFORMS

#: Columns of the ``views`` array: the view's box in original pixels (x0, y0, width, height)
#: and whether it was flipped horizontally / vertically after resizing.
VIEW_COLUMNS = ("x0", "y0", "width", "height", "flip_h", "flip_v")


@TRANSFORMS.register_module()
class TwoViewCrops(BaseTransform):
    """Two random, overlapping, resized crops of an image, packed side by side.

    Each view is a box of the image resized to ``crop_size`` by a factor drawn from
    ``ratio_range`` (as ``RandomRescale`` then ``RandomCrop``: the factor is a pixel scale,
    1 = native resolution), flipped at random and passed through its own copy of
    ``view_pipeline`` (photometric transforms, e.g. ``RandomLighting``), so that the two views
    of a point differ in everything but the surface. The second view's centre lies inside the
    first view's box, so the views always share part of the image.

    Required keys: ``img``. Modified keys: ``img`` (the two views side by side,
    ``(h, 2 * w, 3)``), ``img_shape``. Added keys: ``views`` (float array (2, 6), columns
    :data:`VIEW_COLUMNS`), ``ori_view_shape`` (the image's (h, w) the boxes refer to).

    Args:
        crop_size (int | tuple[int, int]): (h, w) of each view.
        ratio_range (tuple[float, float]): the resize factor of each view is drawn uniformly
            from it; raised where needed so that the box fits in the image. Default: (0.5, 2.0).
        flip_prob (float): probability of each of the horizontal and vertical flips, per view.
            Default: 0.5.
        view_pipeline (list[dict], optional): transforms applied to each view separately
            (they see ``img`` only). Default: None.
    """

    def __init__(self, crop_size: Union[int, Sequence[int]],
                 ratio_range: Tuple[float, float] = (0.5, 2.0), flip_prob: float = 0.5,
                 view_pipeline: Optional[List[dict]] = None) -> None:
        if isinstance(crop_size, int):
            crop_size = (crop_size, crop_size)
        self.crop_size = (int(crop_size[0]), int(crop_size[1]))
        if min(self.crop_size) < 1:
            raise ValueError(f"crop_size must be positive, got {crop_size}")
        low, high = (float(r) for r in ratio_range)
        if not 0 < low <= high:
            raise ValueError(f"ratio_range must satisfy 0 < low <= high, got {ratio_range}")
        if not 0.0 <= flip_prob <= 1.0:
            raise ValueError(f"flip_prob must be in [0, 1], got {flip_prob}")
        self.ratio_range = (low, high)
        self.flip_prob = float(flip_prob)
        self.view_pipeline_cfg = list(view_pipeline or [])
        self.view_pipeline = Compose([TRANSFORMS.build(t) if isinstance(t, dict) else t
                                      for t in self.view_pipeline_cfg])

    @cache_randomness
    def _draw(self, height: int, width: int) -> np.ndarray:
        crop_h, crop_w = self.crop_size
        views = np.zeros((2, 6), dtype=np.float64)
        for i in range(2):
            # a resize factor whose box fits in the image (a small image is upscaled)
            fit = max(crop_h / height, crop_w / width)
            ratio = max(float(np.random.uniform(*self.ratio_range)), fit)
            box_h = min(height, max(1, int(round(crop_h / ratio))))
            box_w = min(width, max(1, int(round(crop_w / ratio))))
            if i == 0:
                y0 = np.random.randint(0, height - box_h + 1)
                x0 = np.random.randint(0, width - box_w + 1)
            else:  # centre inside the first box, the box clamped into the image
                first = views[0]
                cy = first[1] + np.random.uniform(0, first[3])
                cx = first[0] + np.random.uniform(0, first[2])
                y0 = int(np.clip(round(cy - box_h / 2), 0, height - box_h))
                x0 = int(np.clip(round(cx - box_w / 2), 0, width - box_w))
            flips = np.random.rand(2) < self.flip_prob
            views[i] = (x0, y0, box_w, box_h, float(flips[0]), float(flips[1]))
        return views

    def _view(self, img: np.ndarray, view: np.ndarray) -> np.ndarray:
        x0, y0, box_w, box_h = (int(v) for v in view[:4])
        crop = img[y0:y0 + box_h, x0:x0 + box_w]
        crop_h, crop_w = self.crop_size
        shrink = box_w > crop_w or box_h > crop_h
        crop = cv2.resize(crop, (crop_w, crop_h),
                          interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        if view[4]:
            crop = crop[:, ::-1]
        if view[5]:
            crop = crop[::-1]
        out = self.view_pipeline(dict(img=np.ascontiguousarray(crop),
                                      img_shape=self.crop_size))
        if out is None or out["img"].shape[:2] != self.crop_size:
            raise ValueError(f"TwoViewCrops: view_pipeline must keep the view's size "
                             f"{self.crop_size} (and not drop the view)")
        return out["img"]

    def transform(self, results: dict) -> dict:
        img = results["img"]
        height, width = img.shape[:2]
        views = self._draw(height, width)
        results["img"] = np.concatenate([self._view(img, v) for v in views], axis=1)
        results["img_shape"] = results["img"].shape[:2]
        results["views"] = views.astype(np.float32)
        results["ori_view_shape"] = (height, width)
        return results

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(crop_size={self.crop_size}, "
                f"ratio_range={self.ratio_range}, flip_prob={self.flip_prob}, "
                f"view_pipeline={self.view_pipeline_cfg})")
