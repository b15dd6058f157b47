"""Tent: test-time adaptation by entropy minimisation of normalisation parameters.

Wang et al., "Tent: Fully Test-Time Adaptation by Entropy Minimization" (ICLR 2021). Only the
affine parameters of normalisation layers (BatchNorm, LayerNorm, GroupNorm) are updated; BN
layers normalise with the statistics of each target batch and keep updating their running
statistics, so the adapted model also works in plain eval mode afterwards. Everything else is
frozen, and Dropout/DropPath stay off.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List

import torch
import torch.nn as nn
from torch import Tensor

from .functional import entropy

NORM_LAYERS = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)


def configure_tent(model: nn.Module) -> List[nn.Parameter]:
    """Freeze everything except normalisation affine parameters; BN layers in train mode.

    Returns:
        list[nn.Parameter]: the parameters to optimise.

    Raises:
        ValueError: if the model has no normalisation layer with affine parameters.
    """
    model.eval()  # Dropout / DropPath off
    model.requires_grad_(False)
    params: List[nn.Parameter] = []
    for module in model.modules():
        if not isinstance(module, NORM_LAYERS):
            continue
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.train()  # batch statistics of the target batch
        for name in ("weight", "bias"):
            p = getattr(module, name, None)
            if isinstance(p, nn.Parameter):
                p.requires_grad_(True)
                params.append(p)
    if not params:
        raise ValueError("Tent needs normalisation layers with affine parameters; the model "
                         "has none")
    return params


def norm_parameter_names(model: nn.Module) -> List[str]:
    """Names of the parameters :func:`configure_tent` adapts."""
    names = []
    for mod_name, module in model.named_modules():
        if isinstance(module, NORM_LAYERS):
            for name in ("weight", "bias"):
                if isinstance(getattr(module, name, None), nn.Parameter):
                    names.append(f"{mod_name}.{name}" if mod_name else name)
    return names


def tent_adapt(model: nn.Module, batches: Iterable[Tensor],
               forward: Callable[[Tensor], Tensor], lr: float = 1e-4, steps_per_batch: int = 1,
               optimizer: str = "adam") -> Dict[str, List[float]]:
    """Adapt ``model`` in place on target batches; returns the entropy before each step.

    Args:
        model (nn.Module): the network to adapt (configured here with :func:`configure_tent`).
        batches (Iterable[Tensor]): normalised target images, each (N, 3, H, W).
        forward (Callable[[Tensor], Tensor]): maps a batch to logits (N, C, H, W), e.g.
            ``model.inference_logits``.
        lr (float): learning rate. Default: 1e-4.
        steps_per_batch (int): optimisation steps on each batch. Default: 1.
        optimizer (str): ``'adam'`` or ``'sgd'`` (momentum 0.9). Default: ``'adam'``.

    Returns:
        dict: ``{'entropy': [mean per-pixel entropy (nats) before each step]}``.
    """
    params = configure_tent(model)
    if optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999))
    elif optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9)
    else:
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    history: List[float] = []
    for batch in batches:
        for _ in range(steps_per_batch):
            loss = entropy(forward(batch)).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            history.append(float(loss.detach()))
    model.eval()
    return {"entropy": history}
