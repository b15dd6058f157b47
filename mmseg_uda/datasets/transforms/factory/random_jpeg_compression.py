"""JPEG compression artefacts of line cameras and image archives."""

from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np
from mmseg.registry import TRANSFORMS

from .base import RandomImageTransform, check_range


@TRANSFORMS.register_module()
class RandomJPEGCompression(RandomImageTransform):
    """Encode and decode the image as JPEG at a random quality (labels untouched).

    Args:
        prob (float): probability of applying it. Default: 0.3.
        quality_range (tuple[int, int]): JPEG quality, 1..100 (inclusive). Default: (20, 70).
    """

    def __init__(self, prob: float = 0.3, quality_range: Tuple[int, int] = (20, 70)) -> None:
        super().__init__(prob)
        low, high = check_range("quality_range", quality_range, 1.0, 100.0)
        self.quality_range = (int(low), int(high))

    def apply(self, img: np.ndarray, results: dict) -> np.ndarray:
        quality = int(np.random.randint(self.quality_range[0], self.quality_range[1] + 1))
        data = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", data, [int(cv2.IMWRITE_JPEG_QUALITY), quality])
        if not ok:
            raise RuntimeError(f"RandomJPEGCompression: OpenCV failed to encode an image of "
                               f"shape {img.shape}")
        flag = cv2.IMREAD_COLOR if data.ndim == 3 else cv2.IMREAD_GRAYSCALE
        return cv2.imdecode(buf, flag).astype(np.float32)
