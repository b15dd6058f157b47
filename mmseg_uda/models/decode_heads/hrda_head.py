"""HRDA's head: a segmentation decoder plus a scale-attention decoder on the context features.

Hoyer et al., "HRDA: Context-Aware High-Resolution Domain-Adaptive Semantic Segmentation",
ECCV 2022. The head holds two decoders over the same backbone features: ``decoder`` predicts
class logits for every crop (context and detail alike); ``attention_decoder`` (a light decoder)
predicts, from the context features only, how much the fused prediction should trust the
detail crop at each position (a sigmoid, per class or one channel). The fusion itself is
:func:`mmseg_uda.models.utils.fuse_scales`, called by
:class:`~mmseg_uda.models.segmentors.HRDAEncoderDecoder` with the crop box as an argument.
"""

from __future__ import annotations

import copy
from typing import List, Optional

import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class HRDAHead(BaseModule):
    """Segmentation decoder + scale-attention decoder (registered as ``HRDAHead``).

    Exposes the segmentation decoder's ``num_classes``, ``out_channels``, ``align_corners``,
    ``ignore_index``, ``threshold`` and ``loss_decode`` so that mmseg's segmentor code and the
    weighted losses treat it like a decode head.

    Args:
        decoder (dict): config of the segmentation decode head (``DAFormerHead``,
            ``SegformerHead``, or any mmseg decode head returning logits from ``forward``).
        attention_decoder (dict, optional): config of the attention decoder; its
            ``num_classes``/``out_channels`` are set here. Default: None (a copy of
            ``decoder``; configs pass the light ``DAFormerHead(fusion='conv')``).
        attention_classwise (bool): one attention channel per class (True) or one channel
            shared by all classes (False). Default: True.
        init_cfg (dict, optional): initialisation config. Default: None.
    """

    def __init__(self, decoder: dict, attention_decoder: Optional[dict] = None,
                 attention_classwise: bool = True, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.decoder = MODELS.build(decoder)
        att_cfg = copy.deepcopy(attention_decoder if attention_decoder is not None else decoder)
        channels = self.decoder.out_channels if attention_classwise else 1
        att_cfg.update(num_classes=channels, out_channels=channels)
        if channels == 1:
            att_cfg["threshold"] = 0.5  # unused: the attention is a sigmoid weight, not a mask
        self.attention_decoder = MODELS.build(att_cfg)
        self.attention_classwise = attention_classwise

    # the decode-head interface of mmseg's segmentors, from the segmentation decoder
    @property
    def num_classes(self) -> int:
        return self.decoder.num_classes

    @property
    def out_channels(self) -> int:
        return self.decoder.out_channels

    @property
    def align_corners(self) -> bool:
        return self.decoder.align_corners

    @property
    def ignore_index(self) -> int:
        return self.decoder.ignore_index

    @property
    def threshold(self) -> Optional[float]:
        return self.decoder.threshold

    @property
    def loss_decode(self):
        return self.decoder.loss_decode

    def forward(self, feats: List[Tensor]) -> Tensor:
        """Class logits (N, C, h, w) of a batch of crops (any scale)."""
        return self.decoder(feats)

    def attention(self, feats: List[Tensor]) -> Tensor:
        """Scale attention in [0, 1], (N, C or 1, h, w), from context features."""
        return torch.sigmoid(self.attention_decoder(feats))
