"""Cross-entropy with per-pixel and per-class weights.

mmseg 1.x decode heads take no per-pixel weight map, and mmseg 1.2.2's ``CrossEntropyLoss``
with ``class_weight`` fails on the ignore label (it indexes the class weights with 255). The
self-training losses need both, so this module computes the loss from the logits directly.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS


def _matching_label(logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """``label`` as (N, H, W) int64, checked against the (N, C, H, W) ``logits``."""
    if label.dim() == 4:
        label = label.squeeze(1)
    if logits.shape[-2:] != label.shape[-2:] or logits.shape[0] != label.shape[0]:
        raise ValueError(f"logits {tuple(logits.shape)} and label {tuple(label.shape)} do not "
                         "match in batch or spatial size")
    return label.long()


def weighted_cross_entropy(logits: torch.Tensor, label: torch.Tensor,
                           pixel_weight: Optional[torch.Tensor] = None,
                           class_weight: Optional[torch.Tensor] = None,
                           ignore_index: int = 255, avg_non_ignore: bool = False,
                           focal_gamma: float = 0.0) -> torch.Tensor:
    """Mean pixel-wise cross-entropy, weighted per pixel and per class.

    Args:
        logits (torch.Tensor): (N, C, H, W) scores; computed in float32 whatever their dtype.
        label (torch.Tensor): (N, H, W) or (N, 1, H, W) class ids; ``ignore_index`` pixels
            contribute nothing.
        pixel_weight (torch.Tensor, optional): (N, H, W) or (N,) weights (e.g. pseudo-label
            confidence). Default: None (all ones).
        class_weight (torch.Tensor, optional): (C,) weight of each class. Default: None.
        ignore_index (int): label ignored by the loss. Default: 255.
        avg_non_ignore (bool): divide by the (class-weighted) number of labeled pixels instead
            of by all N*H*W pixels. The reference HRDA divides by all pixels. Default: False.
        focal_gamma (float): the focal loss's modulation (Lin et al., 2017, softmax form):
            each pixel's loss times ``(1 - p)**focal_gamma``, ``p`` the predicted probability
            of its label, so pixels already classified well (most of the background) count
            less. 0 is plain cross-entropy. Default: 0.0.

    Returns:
        torch.Tensor: scalar loss.
    """
    label = _matching_label(logits, label)
    if focal_gamma < 0:
        raise ValueError(f"focal_gamma must be >= 0, got {focal_gamma}")
    if class_weight is not None:
        class_weight = class_weight.to(device=logits.device, dtype=torch.float32)
    logits = logits.float()
    loss = F.cross_entropy(logits, label, weight=class_weight,
                           ignore_index=ignore_index, reduction="none")
    if focal_gamma > 0:
        # p of the label from the log-softmax; ignored pixels (loss 0) read class 0 harmlessly.
        safe = torch.where(label == ignore_index, torch.zeros_like(label), label)
        log_p = F.log_softmax(logits, dim=1).gather(1, safe.unsqueeze(1)).squeeze(1)
        loss = loss * (1.0 - log_p.exp()).clamp(min=0.0).pow(focal_gamma)
    if pixel_weight is not None:
        if pixel_weight.dim() == 1:
            pixel_weight = pixel_weight.view(-1, 1, 1)
        loss = loss * pixel_weight.to(loss.dtype)
    if not avg_non_ignore:
        return loss.sum() / label.numel()
    valid = (label != ignore_index).float()
    if class_weight is not None:
        valid = valid * class_weight[label.clamp(0, class_weight.numel() - 1)]
    return loss.sum() / valid.sum().clamp(min=1.0)


def class_balanced_cross_entropy(logits: torch.Tensor, label: torch.Tensor,
                                 pixel_weight: Optional[torch.Tensor] = None,
                                 ignore_index: int = 255) -> torch.Tensor:
    """Cross-entropy averaged per class first, then over the classes present in the batch.

    Each class that has labeled pixels in ``label`` contributes the mean (pixel-weighted)
    loss of its own pixels, and the classes count equally: a defect class of 0.05 % of the
    pixels pulls as hard as the background. No class weights to choose per dataset.

    Args:
        logits (torch.Tensor): (N, C, H, W) scores (float32 inside).
        label (torch.Tensor): (N, H, W) or (N, 1, H, W) class ids.
        pixel_weight (torch.Tensor, optional): (N, H, W) or (N,) weights; a class's term is
            the sum of its weighted losses over its pixel count. Default: None.
        ignore_index (int): label ignored by the loss. Default: 255.

    Returns:
        torch.Tensor: scalar loss (0 with a gradient when no pixel is labeled).
    """
    label = _matching_label(logits, label)
    valid = label != ignore_index
    if not valid.any():
        return logits.sum() * 0.0
    num_classes = logits.shape[1]
    cls = label[valid]
    bad = cls[(cls < 0) | (cls >= num_classes)]
    if bad.numel():
        raise ValueError(f"label holds class {int(bad[0])} but the logits have "
                         f"{num_classes} classes (ignore_index {ignore_index})")
    loss = F.cross_entropy(logits.float(), label, ignore_index=ignore_index, reduction="none")
    if pixel_weight is not None:
        if pixel_weight.dim() == 1:
            pixel_weight = pixel_weight.view(-1, 1, 1)
        loss = loss * pixel_weight.to(loss.dtype)
    sums = loss.new_zeros(num_classes).index_add(0, cls, loss[valid])
    counts = torch.bincount(cls, minlength=num_classes)
    present = counts > 0
    return (sums[present] / counts[present].to(sums.dtype)).mean()


@MODELS.register_module()
class WeightedCrossEntropyLoss(nn.Module):
    """Cross-entropy for decode heads with working class weights and pixel weights.

    A drop-in replacement for mmseg's ``CrossEntropyLoss`` (softmax case) in ``loss_decode``.

    Args:
        class_weight (Sequence[float], optional): weight of each class. Default: None.
        loss_weight (float): multiplier of the loss. Default: 1.0.
        avg_non_ignore (bool): see :func:`weighted_cross_entropy`. Default: False.
        class_balanced (bool): average per class, then over the classes present in the batch
            (:func:`class_balanced_cross_entropy`) instead of over pixels; excludes
            ``class_weight`` and ``avg_non_ignore``. Default: False.
        focal_gamma (float): focal modulation of each pixel's loss (see
            :func:`weighted_cross_entropy`); with ``class_weight`` and pixel weights alike.
            Not combined with ``class_balanced``. Default: 0.0 (plain cross-entropy). No
            config sets it: measured, it makes magnetic-tile blowholes learnable but under
            DACS doubles the false-alarm tiles on CFD (docs/benchmarks.md).
        loss_name (str): name of the loss in the log (must start with ``loss_``).
            Default: ``'loss_ce'``.
    """

    def __init__(self, class_weight: Optional[Sequence[float]] = None, loss_weight: float = 1.0,
                 avg_non_ignore: bool = False, class_balanced: bool = False,
                 focal_gamma: float = 0.0, loss_name: str = "loss_ce") -> None:
        super().__init__()
        if not loss_name.startswith("loss_"):
            raise ValueError(f"loss_name must start with 'loss_' (mmengine sums only those), "
                             f"got {loss_name!r}")
        if class_balanced and (class_weight is not None or avg_non_ignore):
            raise ValueError("class_balanced=True weighs the classes equally: it takes no "
                             "class_weight and no avg_non_ignore")
        if focal_gamma < 0:
            raise ValueError(f"focal_gamma must be >= 0, got {focal_gamma}")
        if class_balanced and focal_gamma:
            raise ValueError("focal_gamma is not combined with class_balanced=True (two ways of "
                             "taking weight off the background; choose one)")
        self.focal_gamma = float(focal_gamma)
        self.class_balanced = bool(class_balanced)
        self.class_weight = None if class_weight is None else list(map(float, class_weight))
        self.loss_weight = float(loss_weight)
        self.avg_non_ignore = avg_non_ignore
        self._loss_name = loss_name

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor,
                weight: Optional[torch.Tensor] = None, ignore_index: int = 255,
                **kwargs) -> torch.Tensor:
        if self.class_balanced:
            return self.loss_weight * class_balanced_cross_entropy(
                cls_score, label, pixel_weight=weight, ignore_index=ignore_index)
        class_weight = None
        if self.class_weight is not None:
            if len(self.class_weight) != cls_score.shape[1]:
                raise ValueError(f"class_weight has {len(self.class_weight)} entries for "
                                 f"{cls_score.shape[1]} classes")
            class_weight = cls_score.new_tensor(self.class_weight)
        return self.loss_weight * weighted_cross_entropy(
            cls_score, label, pixel_weight=weight, class_weight=class_weight,
            ignore_index=ignore_index, avg_non_ignore=self.avg_non_ignore,
            focal_gamma=self.focal_gamma)

    @property
    def loss_name(self) -> str:
        return self._loss_name
