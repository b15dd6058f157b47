"""An optimizer constructor that leaves frozen parameters (the EMA teacher) out quietly."""

from __future__ import annotations

from typing import List, Optional

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TrainableOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """MMEngine's default constructor, restricted to parameters that require gradients.

    A UDA model holds a frozen copy of the student (the EMA teacher). The default
    constructor either puts those parameters into the optimizer (without ``paramwise_cfg``)
    or logs one warning per parameter (with it: ~1000 lines for MiT-b5). This constructor
    skips every submodule whose parameters are all frozen, applies ``paramwise_cfg``
    (``custom_keys`` match the full names, e.g. ``student.decode_head``) to the rest, and
    logs one summary line.

    Args:
        optim_wrapper_cfg (dict): the ``optim_wrapper`` config.
        paramwise_cfg (dict, optional): as for ``DefaultOptimWrapperConstructor``.
            Default: None.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        # An explicit (default-valued) paramwise option routes every parameter through
        # add_params, where frozen submodules are skipped.
        super().__init__(optim_wrapper_cfg, paramwise_cfg or dict(bypass_duplicate=False))

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = "",
                   is_dcn_module=None) -> None:
        own = list(module.parameters())
        if own and not any(p.requires_grad for p in own):
            return  # a frozen subtree (e.g. the teacher): not optimised, nothing to log
        super().add_params(params, module, prefix, is_dcn_module)

    def __call__(self, model: nn.Module) -> OptimWrapper:
        wrapper = super().__call__(model)
        inner = model.module if hasattr(model, "module") else model
        frozen = sum(p.numel() for p in inner.parameters() if not p.requires_grad)
        trained = sum(p.numel() for g in wrapper.optimizer.param_groups for p in g["params"])
        print_log(f"optimizer: {trained:,} trainable parameter values; {frozen:,} frozen "
                  "ones (e.g. the EMA teacher) are left out", logger="current")
        return wrapper
