"""An optimizer constructor that leaves frozen parameters (the EMA teacher) out quietly."""

from __future__ import annotations

from typing import List, Optional

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch.nn import GroupNorm, LayerNorm
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

NORM_TYPES = (_BatchNorm, _InstanceNorm, GroupNorm, LayerNorm)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TrainableOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """MMEngine's default constructor, restricted to parameters that require gradients.

    A UDA model holds a frozen copy of the student (the EMA teacher). The default
    constructor either puts those parameters into the optimizer (without ``paramwise_cfg``)
    or logs one warning per parameter (with it: ~1000 lines for MiT-b5). This constructor
    skips every submodule whose parameters are all frozen, applies ``paramwise_cfg``
    (``custom_keys`` match the full names, e.g. ``student.decode_head``) to the rest, and
    logs one summary line.

    One option of its own in ``paramwise_cfg``:

    - ``backbone_norm_decay_mult`` (float, optional): weight-decay multiplier of every
      normalisation layer (LayerNorm, BatchNorm, GroupNorm, InstanceNorm, found by type)
      inside a module named ``backbone``, applied after ``custom_keys`` (their ``lr_mult``
      stays). The reference's ``custom_keys={'norm': dict(decay_mult=0)}`` matches every MiT
      norm by *name* in mmseg 0.x, but not the four stage-final LayerNorms of mmseg 1.x's
      ``MixVisionTransformer`` (``backbone.layers.{i}.2``): ``0.0`` gives them no decay, as
      in the reference. Default: None (MMEngine's rules only).

    Args:
        optim_wrapper_cfg (dict): the ``optim_wrapper`` config.
        paramwise_cfg (dict, optional): as for ``DefaultOptimWrapperConstructor``, plus the
            option above. Default: None.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        paramwise_cfg = dict(paramwise_cfg or {})
        mult = paramwise_cfg.pop("backbone_norm_decay_mult", None)
        self.backbone_norm_decay_mult = None if mult is None else float(mult)
        # An explicit (default-valued) paramwise option routes every parameter through
        # add_params, where frozen submodules are skipped.
        super().__init__(optim_wrapper_cfg, paramwise_cfg or dict(bypass_duplicate=False))
        if self.backbone_norm_decay_mult is not None and self.base_wd is None:
            raise ValueError("paramwise_cfg.backbone_norm_decay_mult needs "
                             "optimizer.weight_decay")

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = "",
                   is_dcn_module=None) -> None:
        own = list(module.parameters())
        if own and not any(p.requires_grad for p in own):
            return  # a frozen subtree (e.g. the teacher): not optimised, nothing to log
        if self.backbone_norm_decay_mult is not None and isinstance(module, NORM_TYPES) \
                and "backbone" in prefix.split("."):
            start = len(params)
            super().add_params(params, module, prefix, is_dcn_module)
            for group in params[start:]:
                group["weight_decay"] = self.base_wd * self.backbone_norm_decay_mult
            return
        super().add_params(params, module, prefix, is_dcn_module)

    def __call__(self, model: nn.Module) -> OptimWrapper:
        wrapper = super().__call__(model)
        inner = model.module if hasattr(model, "module") else model
        frozen = sum(p.numel() for p in inner.parameters() if not p.requires_grad)
        trained = sum(p.numel() for g in wrapper.optimizer.param_groups for p in g["params"])
        print_log(f"optimizer: {trained:,} trainable parameter values; {frozen:,} frozen "
                  "ones (e.g. the EMA teacher) are left out", logger="current")
        return wrapper
