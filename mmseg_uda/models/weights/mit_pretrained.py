"""``init_cfg=dict(type='MiTPretrained', checkpoint=PATH)``: strict pretrained MiT weights.

mmengine's ``Pretrained`` initialiser loads non-strictly: a file in another key layout (the
original SegFormer or HuggingFace weights) matches no key, a log line says so, and training
starts from a random backbone. This initialiser recognises the layout, converts it and fails
with the missing/unexpected keys named when the file does not fit.

Usage in a config::

    model = dict(backbone=dict(
        init_cfg=dict(type='MiTPretrained', checkpoint='pretrained/mit_b5.pth')))
"""

from __future__ import annotations

from mmengine.logging import print_log
from mmengine.model.weight_init import update_init_info
from mmengine.registry import WEIGHT_INITIALIZERS
from torch import nn

from .mit_converters import load_mit_weights


# Registered in mmengine's root registry: mmengine's `initialize` builds initialisers from it,
# and the mmseg child registry finds it there too whatever the default scope.
@WEIGHT_INITIALIZERS.register_module(name="MiTPretrained")
class MiTPretrained:
    """Weight initialiser loading pretrained MiT weights of any supported layout strictly.

    Args:
        checkpoint (str): weight file (``.pth``/``.bin``/``.safetensors``) in the original
            SegFormer, HuggingFace or mmseg layout.
        allow_pickle (bool): allow files that pickle Python objects besides tensors (only
            for files you trust). Default: False.
    """

    def __init__(self, checkpoint: str, allow_pickle: bool = False) -> None:
        self.checkpoint = checkpoint
        self.allow_pickle = allow_pickle

    def __call__(self, module: nn.Module) -> None:
        if not hasattr(module, "layers") or not hasattr(module, "embed_dims"):
            raise TypeError(
                f"MiTPretrained initialises a MixVisionTransformer backbone, got "
                f"{type(module).__name__}; put it in model.backbone.init_cfg")
        layout = load_mit_weights(module, self.checkpoint, self.allow_pickle)
        print_log(f"MiTPretrained: loaded {self.checkpoint} ({layout} layout) into "
                  f"{type(module).__name__}, all keys matched", logger="current")
        if hasattr(module, "_params_init_info"):
            update_init_info(module, init_info=f"MiTPretrained: load from {self.checkpoint}")
