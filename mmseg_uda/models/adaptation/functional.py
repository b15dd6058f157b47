"""Pure tensor functions of the adaptation methods beyond DACS.

* gradient reversal and the DANN schedule of its coefficient,
* CORAL and MMD distances between source and target feature sets,
* MIC block masking,
* the class-masked ImageNet feature distance.

Every function is stateless and works on any device/dtype; the modules that hold parameters or
state (discriminator, frozen ImageNet backbone) live beside them.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


class _GradientReversal(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, coeff: float) -> Tensor:
        ctx.coeff = coeff
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return -ctx.coeff * grad, None


def grad_reverse(x: Tensor, coeff: float = 1.0) -> Tensor:
    """Identity in the forward pass; multiplies the gradient by ``-coeff`` in the backward pass.

    Args:
        x (Tensor): features.
        coeff (float): scale of the reversed gradient (DANN's λ). Default: 1.0.
    """
    return _GradientReversal.apply(x, float(coeff))


def dann_coefficient(progress: float, gamma: float = 10.0, max_coeff: float = 1.0) -> float:
    """DANN's schedule λ_p = max · (2 / (1 + exp(-γ p)) − 1), rising from 0 to ~max.

    Args:
        progress (float): training progress p in [0, 1] (iteration / max_iters).
        gamma (float): steepness. Default: 10.0 (Ganin & Lempitsky).
        max_coeff (float): the value reached at the end. Default: 1.0.
    """
    p = min(max(float(progress), 0.0), 1.0)
    return float(max_coeff) * (2.0 / (1.0 + math.exp(-gamma * p)) - 1.0)


def _flatten_features(x: Tensor) -> Tensor:
    """(N, C, H, W) -> (N*H*W, C); (N, C) unchanged; computed in float32."""
    if x.dim() == 4:
        x = x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])
    if x.dim() != 2:
        raise ValueError(f"features must be (N, C) or (N, C, H, W), got {tuple(x.shape)}")
    return x.float()


def coral_loss(source: Tensor, target: Tensor) -> Tensor:
    """CORAL: squared Frobenius distance of the feature covariances / (4 d²) (Sun & Saenko).

    Args:
        source (Tensor): (N, C) or (N, C, H, W) source features (pixels count as samples).
        target (Tensor): target features of the same channel count.

    Returns:
        Tensor: scalar, 0 for identical feature distributions.
    """
    xs, xt = _flatten_features(source), _flatten_features(target)
    if xs.shape[1] != xt.shape[1]:
        raise ValueError(f"source has {xs.shape[1]} channels, target {xt.shape[1]}")
    if xs.shape[0] < 2 or xt.shape[0] < 2:
        raise ValueError("CORAL needs at least 2 samples per domain")
    d = xs.shape[1]
    cs = torch.cov(xs.T)
    ct = torch.cov(xt.T)
    return (cs - ct).pow(2).sum() / (4.0 * d * d)


def median_bandwidth(x: Tensor, y: Tensor) -> Tensor:
    """Median heuristic: the median pairwise squared distance of the pooled samples."""
    z = torch.cat([x, y])
    d2 = torch.cdist(z, z).pow(2)
    off_diag = d2[~torch.eye(len(z), dtype=torch.bool, device=z.device)]
    return off_diag.median().clamp(min=1e-12)


def mmd_loss(source: Tensor, target: Tensor, bandwidth: Optional[float] = None,
             kernel_scales: Sequence[float] = (0.25, 0.5, 1.0, 2.0, 4.0),
             max_samples: int = 1024, generator: Optional[torch.Generator] = None,
             unbiased: bool = True) -> Tensor:
    """Squared MMD with a sum of RBF kernels (bandwidths around the median heuristic).

    k(a, b) = Σ_s exp(−‖a − b‖² / (s · h)), h = ``bandwidth`` or the median pairwise squared
    distance of the pooled samples (detached, so it is not optimised away).

    Args:
        source (Tensor): (N, C) or (N, C, H, W) features.
        target (Tensor): target features of the same channel count.
        bandwidth (float, optional): h; None uses the median heuristic. Default: None.
        kernel_scales (Sequence[float]): multipliers s of h. Default: (0.25, ..., 4).
        max_samples (int): pixels are sub-sampled to this many per domain. Default: 1024.
        generator (torch.Generator, optional): RNG of the sub-sampling. Default: None.
        unbiased (bool): the U-statistic (unbiased; can be slightly negative, and is about
            -2k(0)/n rather than 0 for two copies of one sample set) or the V-statistic
            (biased, >= 0, exactly 0 for identical sets). Default: True.

    Returns:
        Tensor: scalar estimate of MMD² (≈0 for identical distributions).
    """
    xs, xt = _flatten_features(source), _flatten_features(target)
    if xs.shape[1] != xt.shape[1]:
        raise ValueError(f"source has {xs.shape[1]} channels, target {xt.shape[1]}")
    xs, xt = _subsample(xs, max_samples, generator), _subsample(xt, max_samples, generator)
    m, n = len(xs), len(xt)
    if m < 2 or n < 2:
        raise ValueError("MMD needs at least 2 samples per domain")
    h = torch.as_tensor(bandwidth, device=xs.device, dtype=xs.dtype) if bandwidth else \
        median_bandwidth(xs.detach(), xt.detach())

    def kernel(a: Tensor, b: Tensor) -> Tensor:
        d2 = torch.cdist(a, b).pow(2)
        return sum(torch.exp(-d2 / (s * h)) for s in kernel_scales)

    kss, ktt, kst = kernel(xs, xs), kernel(xt, xt), kernel(xs, xt)
    if not unbiased:
        return kss.mean() + ktt.mean() - 2.0 * kst.mean()
    kss = (kss.sum() - kss.diagonal().sum()) / (m * (m - 1))
    ktt = (ktt.sum() - ktt.diagonal().sum()) / (n * (n - 1))
    return kss + ktt - 2.0 * kst.mean()


def _subsample(x: Tensor, limit: int, generator: Optional[torch.Generator]) -> Tensor:
    if len(x) <= limit:
        return x
    idx = torch.randperm(len(x), generator=generator, device="cpu")[:limit].to(x.device)
    return x[idx]


def block_mask(batch: int, height: int, width: int, block_size: int = 64,
               mask_ratio: float = 0.7, generator: Optional[torch.Generator] = None,
               device=None) -> Tensor:
    """MIC's random block mask: 1 keeps a pixel, 0 masks it; blocks of ``block_size`` px.

    Each block is masked independently with probability ``mask_ratio`` (so the masked fraction
    is ``mask_ratio`` in expectation).

    Args:
        batch, height, width (int): output shape (N, 1, H, W).
        block_size (int): side of a square block in pixels. Default: 64.
        mask_ratio (float): probability that a block is masked, in [0, 1]. Default: 0.7.
        generator (torch.Generator, optional): RNG. Default: None.
        device: device of the mask. Default: CPU.
    """
    if not 0.0 <= mask_ratio <= 1.0:
        raise ValueError(f"mask_ratio must be in [0, 1], got {mask_ratio}")
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    gh, gw = math.ceil(height / block_size), math.ceil(width / block_size)
    keep = (torch.rand(batch, 1, gh, gw, generator=generator) >= mask_ratio).float()
    keep = keep.repeat_interleave(block_size, 2).repeat_interleave(block_size, 3)
    return keep[:, :, :height, :width].to(device)


def masked_feature_distance(student: Tensor, frozen: Tensor,
                            label: Optional[Tensor] = None,
                            classes: Optional[Sequence[int]] = None,
                            ignore_index: int = 255, min_ratio: float = 0.5) -> Tensor:
    """Mean L2 distance between student and frozen (ImageNet) features, optionally masked.

    Args:
        student (Tensor): (N, C, h, w) features of the trained backbone.
        frozen (Tensor): (N, C, h, w) features of the frozen pretrained backbone.
        label (Tensor, optional): (N, H, W) labels; with ``classes`` only feature pixels whose
            (area-downsampled) label patch is one of those classes count. Default: None.
        classes (Sequence[int], optional): class ids kept. Default: None (all pixels).
        ignore_index (int): ignored label. Default: 255.
        min_ratio (float): a feature pixel is selected when more than this fraction of its
            input patch is one of ``classes`` (and more than half is not ignored).
            Default: 0.5.

    Returns:
        Tensor: scalar; 0 when no pixel is selected.
    """
    if student.shape != frozen.shape:
        raise ValueError(f"feature shapes differ: {tuple(student.shape)} vs "
                         f"{tuple(frozen.shape)}")
    dist = (student.float() - frozen.float()).norm(dim=1)  # (N, h, w)
    if label is None or classes is None:
        return dist.mean()
    if label.dim() == 4:
        label = label.squeeze(1)
    size = dist.shape[-2:]
    onehot_keep = torch.zeros_like(label, dtype=torch.float32)
    for c in classes:
        onehot_keep = onehot_keep + (label == c).float()
    # a feature pixel counts when more than min_ratio of its input patch is a selected class
    frac = F.adaptive_avg_pool2d(onehot_keep[:, None], size).squeeze(1)
    valid = F.adaptive_avg_pool2d((label != ignore_index).float()[:, None], size).squeeze(1)
    select = (frac > min_ratio) & (valid > 0.5)
    if not select.any():
        return dist.sum() * 0.0
    return dist[select].mean()


def entropy(logits: Tensor, dim: int = 1) -> Tensor:
    """Per-pixel Shannon entropy (nats) of softmax(logits); computed in float32."""
    logp = F.log_softmax(logits.float(), dim=dim)
    return -(logp.exp() * logp).sum(dim=dim)
