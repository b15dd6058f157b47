"""Sliding-window tiling: window boxes, stacking windows into one batch, overlap averaging."""

from __future__ import annotations

from typing import List, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .crop_boxes import CropBox


def sliding_windows(img_size: Sequence[int], window: Sequence[int], stride: Sequence[int],
                    divisor: int = 1) -> List[CropBox]:
    """Windows covering an image, in row-major order (mmseg's slide-inference tiling).

    The last window of a row/column is shifted back to end at the image border; a window
    larger than the image is clipped to it, so all windows have the same size.

    Args:
        img_size (Sequence[int]): (H, W) of the image in pixels.
        window (Sequence[int]): (h, w) of a window in pixels.
        stride (Sequence[int]): (sh, sw) step between windows in pixels.
        divisor (int): every coordinate must be a multiple of it (checked). Default: 1.

    Returns:
        list[CropBox]: the windows.
    """
    height, width = (int(v) for v in img_size)
    h, w = (int(v) for v in window)
    sh, sw = (int(v) for v in stride)
    if min(h, w, sh, sw) <= 0:
        raise ValueError(f"window {tuple(window)} and stride {tuple(stride)} must be positive")
    rows = max(height - h + sh - 1, 0) // sh + 1
    cols = max(width - w + sw - 1, 0) // sw + 1
    boxes = []
    for r in range(rows):
        for c in range(cols):
            y2 = min(r * sh + h, height)
            x2 = min(c * sw + w, width)
            box = CropBox(max(y2 - h, 0), y2, max(x2 - w, 0), x2)
            if any(v % divisor for v in box):
                raise ValueError(f"window {tuple(box)} of an image of {(height, width)} is not "
                                 f"aligned to {divisor} pixels; image size, window and stride "
                                 f"must be multiples of {divisor}")
            boxes.append(box)
    return boxes


def stack_windows(x: Tensor, boxes: Sequence[CropBox]) -> Tensor:
    """Crops of every image at every box as one batch, window-major.

    Args:
        x (Tensor): (N, C, H, W) images.
        boxes (Sequence[CropBox]): windows of equal size.

    Returns:
        Tensor: (len(boxes) * N, C, h, w); rows ``k*N .. k*N+N-1`` are window ``k``.
    """
    return torch.cat([box.crop(x) for box in boxes], dim=0)


def merge_windows(windows: Tensor, boxes: Sequence[CropBox], out_size: Sequence[int],
                  scale: float = 1.0) -> Tensor:
    """Average window outputs into one frame where windows overlap.

    Args:
        windows (Tensor): (len(boxes) * N, C, h', w') outputs in :func:`stack_windows` order.
        boxes (Sequence[CropBox]): the windows, in input pixels.
        out_size (Sequence[int]): (H', W') of the output frame.
        scale (float): output cells per input pixel (e.g. 1/4 for logits at stride 4).
            Default: 1.0.

    Returns:
        Tensor: (N, C, H', W') averaged outputs (every cell must be covered by a window).
    """
    num = windows.shape[0] // len(boxes)
    height, width = (int(v) for v in out_size)
    out = None
    # No in-place writes into slices: the ONNX exporter's tracer (tools/export_onnx.py) lost
    # them (all-NaN output); zero-padding each window to the frame and summing traces exactly.
    count = np.zeros((1, 1, height, width), np.float32)  # a constant of the box layout
    for k, box in enumerate(boxes):
        cell = box.scaled(scale) if scale != 1.0 else box
        placed = F.pad(windows[k * num:(k + 1) * num],
                       (cell.x1, width - cell.x2, cell.y1, height - cell.y2))
        out = placed if out is None else out + placed
        count[..., cell.y1:cell.y2, cell.x1:cell.x2] += 1
    if (count == 0).any():
        raise ValueError(f"windows {list(map(tuple, boxes))} leave parts of a {tuple(out_size)} "
                         "frame uncovered")
    return out / torch.from_numpy(count).to(device=out.device, dtype=out.dtype)
