"""SimMIM-style masked image modelling for MiT (SegFormer) encoders.

Self-supervised pretraining of the segmentors' backbone on unlabeled photos: random 32-pixel
patches of each crop are masked, the masked stage-1 tokens are replaced by a learned mask token
right after the first (overlapping) patch embedding, the encoder runs as usual, and a light
decoder — a 1x1 convolution and a pixel shuffle — predicts the pixels of the deepest feature
map's cells. The loss is the L1 distance to the normalised input on the masked pixels only.

Why it was tried first: it needs neither large batches, negatives, multi-crop views nor a
momentum encoder, it fits a hierarchical encoder whose later stages merge tokens (the mask is
applied once, before the first stage), and it reconstructs local texture and edges. Measured
on CFD it did not beat the random initialisation; the dense joint-embedding objective
(``DenseVICReg``) did — docs/pretrain.md has both measurements.

The backbone is an ordinary ``MixVisionTransformer`` (or ``MixVisionTransformerSDPA``) built
from the same config dict as the segmentors', so its state dict is what ``MiTPretrained`` loads
(``tools/pretrain.py`` exports it as ``backbone.pth``).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.model.weight_init import trunc_normal_
from mmseg.registry import MODELS
from torch import Tensor

from .masking import (
    encode_masked,
    masked_l1,
    patch_normalize,
    random_patch_mask,
    upsample_mask,
    valid_pixels,
)


def simmim_parts(backbone: nn.Module, mask_patch_size: int,
                 mask_ratio: float) -> Tuple[int, nn.Parameter, nn.Module]:
    """SimMIM's learned parts for a MiT ``backbone``, once the mask settings are checked.

    Returns:
        tuple: the encoder's output stride, the stage-1 mask token (1, 1, C1), initialised as
        SimMIM's, and the light decoder — one linear layer per cell of the deepest map,
        reshaped to stride x stride RGB pixels.
    """
    stride = int(torch.tensor(list(backbone.strides)).prod())
    if mask_patch_size % stride:
        raise ValueError(f"mask_patch_size ({mask_patch_size}) must be a multiple of the "
                         f"encoder's output stride {stride}")
    if not 0.0 < mask_ratio < 1.0:
        raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio}")
    first = backbone.embed_dims * backbone.num_heads[0]
    last = backbone.embed_dims * backbone.num_heads[-1]
    mask_token = nn.Parameter(torch.zeros(1, 1, first))
    trunc_normal_(mask_token, std=0.02)
    decoder = nn.Sequential(nn.Conv2d(last, stride ** 2 * 3, kernel_size=1),
                            nn.PixelShuffle(stride))
    return stride, mask_token, decoder


@MODELS.register_module()
class SimMIM(BaseModel):
    """Masked image modelling around a MiT encoder (SimMIM, adapted to MiT).

    Args:
        backbone (dict): a ``MixVisionTransformer`` config (the segmentor's ``backbone``; its
            ``init_cfg`` may load ImageNet weights for continued pretraining).
        data_preprocessor (dict, optional): normally the segmentors' ``SegDataPreProcessor``
            (ImageNet mean/std, BGR->RGB, crops padded to the crop size).
        mask_patch_size (int): side of a masked square in pixels; a multiple of the encoder's
            output stride (32 for MiT) so that every decoder cell is masked or not.
            Default: 32.
        mask_ratio (float): fraction of the patches masked in each image. Default: 0.6.
        norm_target (bool): predict each mask patch standardised (its own mean and std over
            pixels and channels removed; MAE's normalised-pixel target) instead of the
            normalised image: the loss then weighs local structure (edges, thin defects), not
            the patch's mean colour. Default: False.
        init_cfg (dict, optional): MMEngine init config of the whole model. Default: None.
    """

    def __init__(self, backbone: dict, data_preprocessor: Optional[dict] = None,
                 mask_patch_size: int = 32, mask_ratio: float = 0.6,
                 norm_target: bool = False, init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        if not hasattr(self.backbone, "layers") or not hasattr(self.backbone, "strides"):
            raise TypeError(f"SimMIM needs a MixVisionTransformer backbone, got "
                            f"{type(self.backbone).__name__}")
        self.encoder_stride, self.mask_token, self.decoder = simmim_parts(
            self.backbone, mask_patch_size, mask_ratio)
        self.mask_patch_size = mask_patch_size
        self.mask_ratio = mask_ratio
        self.norm_target = bool(norm_target)

    # ------------------------------------------------------------------ parts
    def encode(self, inputs: Tensor, mask: Optional[Tensor] = None) -> List[Tensor]:
        """The backbone's four feature maps, with masked stage-1 tokens replaced.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised images.
            mask (Tensor, optional): (B, 1, h, w) patch mask (1 = masked), resampled to the
                stage-1 token grid. None: the plain encoder.
        """
        return encode_masked(self.backbone, inputs, mask, self.mask_token)

    def reconstruct(self, inputs: Tensor, mask: Tensor) -> Tensor:
        """(B, 3, H, W) pixels predicted from the masked input (normalised space)."""
        out = self.decoder(self.encode(inputs, mask)[-1])
        return out[..., :inputs.shape[-2], :inputs.shape[-1]]

    def random_mask(self, inputs: Tensor) -> Tensor:
        """A new random (B, 1, ceil(H/p), ceil(W/p)) patch mask for ``inputs``."""
        return random_patch_mask(inputs.shape[0], tuple(inputs.shape[-2:]),
                                 self.mask_patch_size, self.mask_ratio, device=inputs.device)

    def _valid(self, inputs: Tensor, data_samples) -> Tensor:
        """(B, 1, H, W): 1 on the images, 0 on their padding (right / bottom)."""
        shapes = [s.metainfo.get("img_shape", inputs.shape[-2:]) for s in data_samples or ()] \
            or [inputs.shape[-2:]] * inputs.shape[0]
        return valid_pixels(inputs.shape[0], inputs.shape[-2:], shapes, inputs.device)

    def _loss_weight(self, inputs: Tensor, mask: Tensor, data_samples) -> Tensor:
        return upsample_mask(mask, inputs.shape[-2:], self.mask_patch_size) * \
            self._valid(inputs, data_samples)

    def target(self, inputs: Tensor, data_samples=None) -> Tensor:
        """What the decoder predicts: the normalised image, or (``norm_target``) each mask
        patch standardised."""
        if not self.norm_target:
            return inputs
        return patch_normalize(inputs, self.mask_patch_size, self._valid(inputs, data_samples))

    # ------------------------------------------------------------------ BaseModel
    def forward(self, inputs: Tensor, data_samples: Optional[list] = None,
                mode: str = "tensor") -> Union[Dict[str, Tensor], list, Tensor]:
        """``'loss'``: ``{'loss_mim': L1}``; ``'predict'``: per image a dict with the mask
        and the reconstruction; ``'tensor'``: the reconstruction of a random mask."""
        if mode == "loss":
            return self.loss(inputs, data_samples)
        if mode == "predict":
            return self.predict(inputs, data_samples)
        if mode == "tensor":
            return self.reconstruct(inputs, self.random_mask(inputs))
        raise ValueError(f"SimMIM.forward: unknown mode {mode!r} (loss, predict, tensor)")

    def loss(self, inputs: Tensor, data_samples: Optional[list] = None) -> Dict[str, Tensor]:
        """L1 between the reconstruction and the normalised input on masked, valid pixels."""
        mask = self.random_mask(inputs)
        prediction = self.reconstruct(inputs, mask)
        return dict(loss_mim=masked_l1(prediction, self.target(inputs, data_samples),
                                       self._loss_weight(inputs, mask, data_samples)))

    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: Optional[list] = None) -> List[dict]:
        """For visualisation: per image ``mask`` (H, W; 1 = masked), ``reconstruction`` (the
        prediction in masked patches, the target elsewhere) and ``loss`` (its masked L1), all
        in the space of :meth:`target`."""
        mask = self.random_mask(inputs)
        prediction = self.reconstruct(inputs, mask)
        weight = self._loss_weight(inputs, mask, data_samples)
        target = self.target(inputs, data_samples)
        pixels = upsample_mask(mask, inputs.shape[-2:], self.mask_patch_size)
        mixed = prediction * pixels + target * (1.0 - pixels)
        return [dict(mask=pixels[i, 0], reconstruction=mixed[i],
                     loss=masked_l1(prediction[i:i + 1], target[i:i + 1], weight[i:i + 1]))
                for i in range(inputs.shape[0])]
