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


def patch_normalize(x: Tensor, patch: int, valid: Optional[Tensor] = None,
                    eps: float = 1e-6) -> Tensor:
    """``x`` with each ``patch`` x ``patch`` square standardised (mean 0, std 1 over its valid
    pixels and channels; MAE's normalised-pixel target).

    Args:
        x (Tensor): (B, C, H, W).
        patch (int): side of the squares in pixels (a partial square at the edge is one).
        valid (Tensor, optional): (B, 1, H, W) 1 on the image, 0 on padding (left out of the
            statistics). Default: every pixel.
    """
    if valid is None:
        valid = torch.ones_like(x[:, :1])
    channels = x.shape[1]

    def pooled(t: Tensor) -> Tensor:  # per-square sums, broadcast back to the pixels
        sums = F.avg_pool2d(t, patch, stride=patch, ceil_mode=True, divisor_override=1)
        return sums.repeat_interleave(patch, 2).repeat_interleave(patch, 3)[
            ..., :x.shape[-2], :x.shape[-1]]

    count = pooled(valid) * channels
    mean = pooled((x * valid).sum(1, keepdim=True)) / count.clamp(min=1)
    var = pooled((((x - mean) ** 2) * valid).sum(1, keepdim=True)) / count.clamp(min=1)
    return (x - mean) / (var + eps).sqrt()


def encode_masked(backbone, inputs: Tensor, mask: Optional[Tensor] = None,
                  mask_token: Optional[Tensor] = None) -> list:
    """The four feature maps of a MiT ``backbone`` with the stage-1 tokens of masked patches
    replaced by ``mask_token`` right after the first (overlapping) patch embedding.

    Args:
        backbone: a ``MixVisionTransformer`` (``layers`` of [patch embed, blocks, norm]).
        inputs (Tensor): (B, 3, H, W) normalised images.
        mask (Tensor, optional): (B, 1, h, w) patch mask (1 = masked); a row of zeros leaves
            that image as the plain encoder sees it. None: the plain encoder.
        mask_token (Tensor, optional): (1, 1, C1) learned token; needed with ``mask``.
    """
    from mmseg.models.utils import nlc_to_nchw

    outs = []
    x = inputs
    for i, layer in enumerate(backbone.layers):
        x, hw_shape = layer[0](x)
        if i == 0 and mask is not None:
            weight = token_mask(mask.to(x.dtype), hw_shape)
            x = x * (1.0 - weight) + mask_token.to(x.dtype) * weight
        for block in layer[1]:
            x = block(x, hw_shape)
        x = nlc_to_nchw(layer[2](x), hw_shape)
        outs.append(x)
    return outs
