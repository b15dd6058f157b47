"""MiT with fused attention: mmseg's MixVisionTransformer computing attention through
``torch.nn.functional.scaled_dot_product_attention``.

mmseg's ``EfficientMultiheadAttention`` calls ``nn.MultiheadAttention`` with the default
``need_weights=True``, which materialises and averages the full (queries x keys) attention
matrix of every head in every block. This variant computes the same function with PyTorch's
fused kernels (flash / memory-efficient attention on GPUs), keeps every parameter where the
stock module has it (state dicts, pretrained weights and checkpoints are interchangeable) and
is tested numerically against the stock backbone.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.backbones.mit import EfficientMultiheadAttention, MixVisionTransformer
from mmseg.models.utils import nchw_to_nlc, nlc_to_nchw
from mmseg.registry import MODELS
from torch import Tensor


class SDPAEfficientAttention(nn.Module):
    """SegFormer's spatial-reduction attention on fused kernels.

    Built from a stock :class:`EfficientMultiheadAttention`, whose submodules it takes over
    (``attn`` holding ``in_proj_*``/``out_proj``, ``sr``, ``norm``, ``proj_drop``,
    ``dropout_layer``), so the state-dict keys are unchanged.

    Args:
        stock (EfficientMultiheadAttention): the module to replace.
    """

    def __init__(self, stock: EfficientMultiheadAttention) -> None:
        super().__init__()
        if not stock.batch_first:
            raise ValueError("SDPAEfficientAttention supports batch_first attention only")
        self.attn = stock.attn
        self.proj_drop = stock.proj_drop
        self.dropout_layer = stock.dropout_layer
        self.sr_ratio = stock.sr_ratio
        if self.sr_ratio > 1:
            self.sr = stock.sr
            self.norm = stock.norm

    def forward(self, x: Tensor, hw_shape: Sequence[int],
                identity: Optional[Tensor] = None) -> Tensor:
        """Attention of (B, N, C) tokens on a ``hw_shape`` grid, plus the residual."""
        x_kv = x
        if self.sr_ratio > 1:
            x_kv = self.norm(nchw_to_nlc(self.sr(nlc_to_nchw(x, hw_shape))))
        if identity is None:
            identity = x
        attn = self.attn
        batch, num_q, dims = x.shape
        heads = attn.num_heads
        weight, bias = attn.in_proj_weight, attn.in_proj_bias
        q = F.linear(x, weight[:dims], None if bias is None else bias[:dims])
        kv = F.linear(x_kv, weight[dims:], None if bias is None else bias[dims:])
        q = q.view(batch, num_q, heads, dims // heads).transpose(1, 2)
        k, v = kv.view(batch, -1, 2, heads, dims // heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=attn.dropout if self.training else 0.0)
        out = attn.out_proj(out.transpose(1, 2).reshape(batch, num_q, dims))
        return identity + self.dropout_layer(self.proj_drop(out))


@MODELS.register_module()
class MixVisionTransformerSDPA(MixVisionTransformer):
    """``MixVisionTransformer`` with :class:`SDPAEfficientAttention` in every block.

    Takes exactly the arguments of :class:`mmseg.models.backbones.MixVisionTransformer`;
    ``type='MixVisionTransformerSDPA'`` in a backbone config is the only change.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        for stage in self.layers:
            for block in stage[1]:
                block.attn = SDPAEfficientAttention(block.attn)
