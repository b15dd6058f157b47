"""Crop boxes of the HRDA detail crop: alignment, random sampling, padding.

A box is given in pixels of the full-resolution input. HRDA fuses the detail logits (at
``1/output_stride`` of the input) with the context logits (at ``context_scale/output_stride``)
inside the box, so the box must land on whole logit cells of both scales: its coordinates must
be multiples of ``output_stride`` and of ``output_stride / context_scale``
(:func:`crop_divisor`; 8 for SegFormer's stride 4 and a context at half resolution).
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


class CropBox(NamedTuple):
    """A window ``[y1, y2) x [x1, x2)`` in pixels (rows, columns)."""

    y1: int
    y2: int
    x1: int
    x2: int

    @property
    def height(self) -> int:
        return self.y2 - self.y1

    @property
    def width(self) -> int:
        return self.x2 - self.x1

    def scaled(self, factor: float) -> CropBox:
        """The same window on a grid ``factor`` times as fine (e.g. 1/4 for logits).

        Raises:
            ValueError: if a coordinate does not land on a whole cell of that grid.
        """
        coords = []
        for value in self:
            scaled = value * factor
            if abs(scaled - round(scaled)) > 1e-6:
                raise ValueError(f"crop box {tuple(self)} does not land on whole cells of a grid "
                                 f"scaled by {factor} ({value} -> {scaled})")
            coords.append(int(round(scaled)))
        return CropBox(*coords)

    def crop(self, x: Tensor) -> Tensor:
        """``x[..., y1:y2, x1:x2]`` (a view)."""
        return x[..., self.y1:self.y2, self.x1:self.x2]


def crop_divisor(output_stride: int, context_scale: float) -> int:
    """Smallest step of box coordinates that lands on whole logits of both scales.

    Args:
        output_stride (int): input pixels per logit of the decoder (4 for SegFormer heads).
        context_scale (float): resize factor of the context crop (0 < scale <= 1).

    Returns:
        int: ``lcm(output_stride, output_stride / context_scale)``; 8 for (4, 0.5).

    Raises:
        ValueError: if ``output_stride / context_scale`` is not a whole number of pixels.
    """
    if not 0 < context_scale <= 1:
        raise ValueError(f"context_scale must be in (0, 1], got {context_scale}")
    context_stride = output_stride / context_scale
    if abs(context_stride - round(context_stride)) > 1e-6:
        raise ValueError(
            f"context_scale={context_scale} gives context logits every {context_stride:g} "
            f"input pixels (output_stride {output_stride} / scale); choose a scale for which "
            "this is a whole number (0.5, 0.25, ...)")
    return math.lcm(int(output_stride), int(round(context_stride)))


def check_aligned(name: str, size: Sequence[int], divisor: int) -> Tuple[int, int]:
    """``(h, w)`` of a crop size or stride, checked to be multiples of ``divisor``."""
    h, w = (int(v) for v in size)
    if h <= 0 or w <= 0 or h % divisor or w % divisor:
        raise ValueError(f"{name}={tuple(size)} must be positive multiples of {divisor} (the "
                         "crop-coordinate divisor: output stride and context scale) so that "
                         "crops land on whole logits of both scales")
    return h, w


def sample_crop_box(img_size: Sequence[int], crop_size: Sequence[int], divisor: int = 1,
                    generator: Optional[torch.Generator] = None,
                    valid_size: Optional[Sequence[int]] = None) -> CropBox:
    """A uniformly random aligned window of ``crop_size`` inside an image of ``img_size``.

    Works for image sizes that are not multiples of ``divisor`` (odd sizes): the box starts on
    a multiple of ``divisor`` and ends inside the image.

    Args:
        img_size (Sequence[int]): (H, W) of the image in pixels.
        crop_size (Sequence[int]): (h, w) of the box in pixels, multiples of ``divisor``.
        divisor (int): box coordinates are multiples of it (see :func:`crop_divisor`).
            Default: 1.
        generator (torch.Generator, optional): CPU random generator; the global torch RNG
            when None. Default: None.
        valid_size (Sequence[int], optional): (h, w) of the top-left part of the image that
            holds real pixels (the rest is batch padding): the box lies inside it where it
            fits and starts at 0 along a dimension where it does not, so it never covers
            padding only. Default: None (the whole image is real).

    Returns:
        CropBox: the box.
    """
    height, width = (int(v) for v in img_size)
    h, w = check_aligned("crop_size", crop_size, divisor)
    if h > height or w > width:
        raise ValueError(f"crop_size {(h, w)} does not fit into an input of {(height, width)} "
                         "pixels; use a smaller detail crop or larger training crops")
    if valid_size is not None:  # start positions that keep the box on real pixels
        height = min(height, max(int(valid_size[0]), h))
        width = min(width, max(int(valid_size[1]), w))
    n_y = (height - h) // divisor + 1
    n_x = (width - w) // divisor + 1
    y1 = int(torch.randint(n_y, (1,), generator=generator)) * divisor
    x1 = int(torch.randint(n_x, (1,), generator=generator)) * divisor
    return CropBox(y1, y1 + h, x1, x1 + w)


def pad_to_multiple(x: Tensor, divisor: int, value: float = 0.0) -> Tensor:
    """Pad the bottom and right of ``x`` (..., H, W) to multiples of ``divisor``."""
    height, width = x.shape[-2:]
    pad_h = -height % divisor
    pad_w = -width % divisor
    if pad_h == 0 and pad_w == 0:
        return x
    return F.pad(x, (0, pad_w, 0, pad_h), value=value)
