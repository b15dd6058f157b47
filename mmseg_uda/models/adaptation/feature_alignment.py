"""Feature-alignment losses a UDA model can add: DANN (adversarial), CORAL, MMD.

Each is a registered module with one call signature::

    losses = alignment(source_feats, target_feats, progress)   # -> {'loss_<name>': Tensor}

where the features are the backbone's multi-stage outputs (a list of (N, C, h, w) tensors) and
``progress`` ∈ [0, 1] is the fraction of training done (DANN ramps its gradient-reversal
coefficient with it). The UDA model computes the features and adds the returned losses. A
class attribute ``uses_progress`` tells it whether ``progress`` matters (so that it need not
know the training length for CORAL and MMD).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from .functional import coral_loss, dann_coefficient, grad_reverse, mmd_loss


def _pick(feats: Sequence[Tensor], in_index: int) -> Tensor:
    if not -len(feats) <= in_index < len(feats):
        raise IndexError(f"in_index {in_index} is out of range for {len(feats)} feature maps")
    return feats[in_index]


@MODELS.register_module()
class DomainDiscriminator(nn.Module):
    """Fully-convolutional domain classifier: one logit per feature pixel (target = 1).

    Args:
        in_channels (int): channels of the feature map it reads.
        hidden_channels (int): width of the hidden 3x3 conv layers. Default: 256.
        num_convs (int): hidden layers (each 3x3 conv + LeakyReLU 0.2). Default: 2.
    """

    def __init__(self, in_channels: int, hidden_channels: int = 256, num_convs: int = 2) -> None:
        super().__init__()
        layers: List[nn.Module] = []
        ch = in_channels
        for _ in range(num_convs):
            layers += [nn.Conv2d(ch, hidden_channels, 3, padding=1), nn.LeakyReLU(0.2, True)]
            ch = hidden_channels
        layers.append(nn.Conv2d(ch, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


@MODELS.register_module()
class DANNAlignment(nn.Module):
    """DANN: a domain discriminator behind a gradient reversal layer (Ganin & Lempitsky).

    The discriminator learns to tell source (0) from target (1) feature pixels; the reversed
    gradient pushes the backbone to make them indistinguishable. λ follows
    ``dann_coefficient(progress, gamma, max_coeff)``.

    Args:
        in_channels (int): channels of the selected feature map.
        in_index (int): which backbone stage to align. Default: -1 (the last).
        loss_weight (float): weight of the domain loss. Default: 0.1.
        hidden_channels (int): discriminator width. Default: 256.
        grl_gamma (float): steepness of the λ schedule. Default: 10.0.
        max_coeff (float): final λ. Default: 1.0.
    """

    uses_progress = True

    def __init__(self, in_channels: int, in_index: int = -1, loss_weight: float = 0.1,
                 hidden_channels: int = 256, grl_gamma: float = 10.0,
                 max_coeff: float = 1.0) -> None:
        super().__init__()
        self.in_index = in_index
        self.loss_weight = float(loss_weight)
        self.grl_gamma = float(grl_gamma)
        self.max_coeff = float(max_coeff)
        self.discriminator = DomainDiscriminator(in_channels, hidden_channels)

    def forward(self, source_feats: Sequence[Tensor], target_feats: Sequence[Tensor],
                progress: float) -> Dict[str, Tensor]:
        channels = _pick(source_feats, self.in_index).shape[1]
        expected = self.discriminator.net[0].in_channels
        if channels != expected:
            raise ValueError(f"DANNAlignment: stage {self.in_index} of the backbone has "
                             f"{channels} channels, but in_channels={expected}; set "
                             f"model.alignment.in_channels={channels}")
        coeff = dann_coefficient(progress, self.grl_gamma, self.max_coeff)
        fs = grad_reverse(_pick(source_feats, self.in_index), coeff)
        ft = grad_reverse(_pick(target_feats, self.in_index), coeff)
        ls, lt = self.discriminator(fs).float(), self.discriminator(ft).float()
        loss = 0.5 * (F.binary_cross_entropy_with_logits(ls, torch.zeros_like(ls)) +
                      F.binary_cross_entropy_with_logits(lt, torch.ones_like(lt)))
        with torch.no_grad():
            acc = 0.5 * ((ls < 0).float().mean() + (lt > 0).float().mean())
        return {"loss_dann": self.loss_weight * loss, "dann_disc_acc": acc,
                "dann_coeff": torch.tensor(coeff)}


@MODELS.register_module()
class CORALAlignment(nn.Module):
    """Deep CORAL: match second-order statistics of source and target features.

    Args:
        in_index (int): backbone stage to align. Default: -1.
        loss_weight (float): weight of the loss. Default: 1.0.
    """

    uses_progress = False

    def __init__(self, in_index: int = -1, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.in_index = in_index
        self.loss_weight = float(loss_weight)

    def forward(self, source_feats, target_feats, progress: float = 0.0) -> Dict[str, Tensor]:
        loss = coral_loss(_pick(source_feats, self.in_index), _pick(target_feats, self.in_index))
        return {"loss_coral": self.loss_weight * loss}


@MODELS.register_module()
class MMDAlignment(nn.Module):
    """Multi-kernel MMD between source and target feature pixels.

    Args:
        in_index (int): backbone stage to align. Default: -1.
        loss_weight (float): weight of the loss. Default: 1.0.
        max_samples (int): feature pixels sampled per domain. Default: 512.
        kernel_scales (Sequence[float]): RBF bandwidth multipliers of the median heuristic.
            Default: (0.25, 0.5, 1, 2, 4).
        bandwidth (float, optional): fixed bandwidth instead of the median. Default: None.
    """

    uses_progress = False

    def __init__(self, in_index: int = -1, loss_weight: float = 1.0, max_samples: int = 512,
                 kernel_scales: Sequence[float] = (0.25, 0.5, 1.0, 2.0, 4.0),
                 bandwidth: Optional[float] = None) -> None:
        super().__init__()
        self.in_index = in_index
        self.loss_weight = float(loss_weight)
        self.max_samples = int(max_samples)
        self.kernel_scales = tuple(kernel_scales)
        self.bandwidth = bandwidth

    def forward(self, source_feats, target_feats, progress: float = 0.0) -> Dict[str, Tensor]:
        loss = mmd_loss(_pick(source_feats, self.in_index), _pick(target_feats, self.in_index),
                        bandwidth=self.bandwidth, kernel_scales=self.kernel_scales,
                        max_samples=self.max_samples)
        return {"loss_mmd": self.loss_weight * loss}
