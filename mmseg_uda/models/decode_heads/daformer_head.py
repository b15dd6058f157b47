"""DAFormer's decoder: per-stage embeddings fused by a depthwise-separable ASPP.

Hoyer et al., "DAFormer: Improving Network Architectures and Training Strategies for
Domain-Adaptive Semantic Segmentation", CVPR 2022. Every backbone stage is embedded to a common
width by a linear layer (a 1x1 convolution), upsampled to the first stage's resolution and
concatenated; the fusion is an ASPP whose dilated branches are depthwise-separable, so context
at several receptive fields enters the decoder cheaply. A plain 1x1-convolution fusion
(``fusion='conv'``) gives the light decoder HRDA uses for its scale attention.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor


class SeparableASPP(nn.Module):
    """ASPP with a 1x1 branch for dilation 1 and depthwise-separable 3x3 branches otherwise.

    Args:
        in_channels (int): channels of the input.
        channels (int): channels of every branch and of the output.
        dilations (Sequence[int]): dilation of each branch in feature pixels.
        norm_cfg (dict, optional): normalisation of every convolution (None: none).
        act_cfg (dict, optional): activation of every convolution (None: none).
    """

    def __init__(self, in_channels: int, channels: int, dilations: Sequence[int],
                 norm_cfg: Optional[dict], act_cfg: Optional[dict]) -> None:
        super().__init__()
        self.branches = nn.ModuleList()
        for d in dilations:
            if d == 1:
                branch = ConvModule(in_channels, channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
            else:
                branch = DepthwiseSeparableConvModule(
                    in_channels, channels, 3, padding=d, dilation=d, norm_cfg=norm_cfg,
                    act_cfg=act_cfg)
            self.branches.append(branch)
        self.bottleneck = ConvModule(len(dilations) * channels, channels, 3, padding=1,
                                     norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        return self.bottleneck(torch.cat([branch(x) for branch in self.branches], dim=1))


@MODELS.register_module()
class DAFormerHead(BaseDecodeHead):
    """DAFormer decoder (registered as ``DAFormerHead``).

    Args:
        embed_dims (int): width each backbone stage is embedded to. Default: 256.
        fusion (str): ``'aspp'`` (depthwise-separable ASPP, the DAFormer decoder) or
            ``'conv'`` (one 1x1 ConvModule, the light decoder of HRDA's scale attention).
            Default: ``'aspp'``.
        dilations (Sequence[int]): ASPP dilations in feature pixels. Default: (1, 6, 12, 18).
        **kwargs: the arguments of :class:`mmseg.models.decode_heads.BaseDecodeHead`
            (``in_channels`` as a list, one entry per stage, ``in_index``, ``channels`` = fused
            width, ``num_classes``, ``norm_cfg``, ``loss_decode``, ...).
    """

    def __init__(self, embed_dims: int = 256, fusion: str = "aspp",
                 dilations: Sequence[int] = (1, 6, 12, 18), **kwargs) -> None:
        super().__init__(input_transform="multiple_select", **kwargs)
        if fusion not in ("aspp", "conv"):
            raise ValueError(f"DAFormerHead fusion must be 'aspp' or 'conv', got {fusion!r}")
        self.embed_dims = embed_dims
        self.fusion = fusion
        self.embeds = nn.ModuleList(
            nn.Conv2d(c, embed_dims, kernel_size=1) for c in self.in_channels)
        fused_in = embed_dims * len(self.in_channels)
        if fusion == "aspp":
            self.fuse = SeparableASPP(fused_in, self.channels, dilations, norm_cfg=self.norm_cfg,
                                      act_cfg=self.act_cfg)
        else:
            self.fuse = ConvModule(fused_in, self.channels, 1, norm_cfg=self.norm_cfg,
                                   act_cfg=self.act_cfg)

    def forward(self, inputs: List[Tensor]) -> Tensor:
        """Logits at the resolution of the first selected stage."""
        feats = self._transform_inputs(inputs)
        size = feats[0].shape[2:]
        embedded = [resize(embed(x), size=size, mode="bilinear",
                           align_corners=self.align_corners)
                    for embed, x in zip(self.embeds, feats)]
        return self.cls_seg(self.fuse(torch.cat(embedded, dim=1)))
