"""Pure tensor functions of masked image modelling: random patch masks and the masked L1.

Kept apart from the model so that they can be tested on their own (shapes, ratios, padding).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def random_patch_mask(batch: int, size: Tuple[int, int], patch: int, ratio: float,
                      device=None, generator: Optional[torch.Generator] = None) -> Tensor:
    """A random mask of square patches, the same number masked in every image.

    Args:
        batch (int): images in the batch.
        size (tuple[int, int]): (height, width) of the images in pixels; a partial patch at
            the right / bottom edge counts as a patch.
        patch (int): side of a mask patch in pixels (SimMIM: 32, the encoder's output stride).
        ratio (float): fraction of patches masked per image, in (0, 1).
        device: device of the mask. Default: CPU.
        generator (torch.Generator, optional): random generator (tests). Default: global.

    Returns:
        Tensor: (batch, 1, ceil(H / patch), ceil(W / patch)) float mask, 1 = masked.
    """
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"mask ratio must be in (0, 1), got {ratio}")
    if patch < 1:
        raise ValueError(f"mask patch size must be >= 1 pixel, got {patch}")
    rows, cols = math.ceil(size[0] / patch), math.ceil(size[1] / patch)
    count = rows * cols
    masked = min(count - 1, max(1, round(ratio * count)))
    scores = torch.rand(batch, count, generator=generator, device="cpu").to(device)
    order = scores.argsort(dim=1)
    mask = torch.zeros(batch, count, device=device)
    mask.scatter_(1, order[:, :masked], 1.0)
    return mask.view(batch, 1, rows, cols)


def upsample_mask(mask: Tensor, size: Sequence[int], patch: int) -> Tensor:
    """A patch mask at pixel resolution ``size`` (each cell repeated ``patch`` times)."""
    full = mask.repeat_interleave(patch, dim=2).repeat_interleave(patch, dim=3)
    return full[..., :size[0], :size[1]]


def token_mask(mask: Tensor, hw_shape: Sequence[int]) -> Tensor:
    """A patch mask resampled (nearest) to a token grid, as (B, H*W, 1) for (B, N, C) tokens."""
    grid = F.interpolate(mask, size=tuple(hw_shape), mode="nearest")
    return grid.flatten(1).unsqueeze(-1)


def valid_pixels(batch: int, size: Sequence[int], img_shapes: Sequence[Sequence[int]],
                 device=None) -> Tensor:
    """(B, 1, H, W) mask of the pixels that belong to each image (not its padding).

    Args:
        batch (int): images in the batch.
        size (Sequence[int]): padded (H, W).
        img_shapes (Sequence): each image's (h, w) before padding (mmseg pads right / bottom).
    """
    valid = torch.zeros(batch, 1, *size, device=device)
    for i, (h, w) in enumerate(img_shapes):
        valid[i, :, :h, :w] = 1.0
    return valid


def masked_l1(prediction: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """Mean absolute error over the pixels (and channels) where ``weight`` is 1.

    Args:
        prediction (Tensor): (B, C, H, W) reconstruction.
        target (Tensor): (B, C, H, W) the normalised input image.
        weight (Tensor): (B, 1, H, W) 1 on masked, valid pixels, else 0.

    Returns:
        Tensor: scalar loss (0 when nothing is masked).
    """
    diff = (prediction.float() - target.float()).abs() * weight
    return diff.sum() / (weight.sum() * prediction.shape[1]).clamp(min=1.0)
