"""HRDA's fusion of context and detail predictions with a learned scale attention."""

from __future__ import annotations

from typing import Optional, Sequence

from mmseg.models.utils import resize
from torch import Tensor

from .crop_boxes import CropBox


def upsample_to(x: Tensor, size: Sequence[int], align_corners: bool = False) -> Tensor:
    """Bilinear resize of (N, C, h, w) to ``size``; returns ``x`` itself if already there."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return resize(x, size=tuple(size), mode="bilinear", align_corners=align_corners,
                  warning=False)


def fuse_scales(context: Tensor, attention: Tensor, detail: Tensor,
                box: Optional[CropBox] = None) -> Tensor:
    """``a * detail + (1 - a) * context`` inside the detail box, ``context`` outside.

    All inputs live on the same grid (the detail logits' resolution; the context logits and
    the attention upsampled to it).

    Args:
        context (Tensor): (N, C, H, W) context logits on the fusion grid.
        attention (Tensor): (N, 1 or C, H, W) scale attention in [0, 1] on the fusion grid.
        detail (Tensor): (N, C, h, w) detail logits covering ``box``.
        box (CropBox, optional): the detail box on the fusion grid; None means the detail
            logits cover the whole frame. Default: None.

    Returns:
        Tensor: (N, C, H, W) fused logits.
    """
    if box is None:
        box = CropBox(0, context.shape[-2], 0, context.shape[-1])
    if tuple(detail.shape[-2:]) != (box.height, box.width):
        raise ValueError(f"detail logits {tuple(detail.shape[-2:])} do not match the box "
                         f"{tuple(box)} on the fusion grid")
    a = box.crop(attention)
    inside = a * detail + (1 - a) * box.crop(context)
    if (box.height, box.width) == tuple(context.shape[-2:]):
        return inside
    fused = context.clone()
    box.crop(fused).copy_(inside)
    return fused
