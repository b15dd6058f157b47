"""The segmentor contract of the self-training loop.

A UDA model (DACS, HRDA, ...) needs two things from the segmentor it trains, beyond mmseg's
``loss``/``predict``:

* :meth:`WeightedEncoderDecoder.weighted_loss` — the training loss against a label map with an
  optional per-pixel weight (pseudo-label confidence, mixed-image weights);
* :meth:`WeightedEncoderDecoder.inference_logits` — full-resolution logits for pseudo-labels,
  with the configured whole-image or sliding-window inference.

Subclasses (the HRDA multi-resolution segmentor) override these two methods; everything that
calls them works unchanged.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmseg.models.losses import accuracy
from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import SampleList
from torch import Tensor


def stack_seg_labels(data_samples: SampleList) -> Tensor:
    """(N, H, W) long label map from the ``gt_sem_seg`` of a batch of data samples."""
    return torch.stack([s.gt_sem_seg.data.squeeze(0) for s in data_samples]).long()


def split_groups(groups: Optional[Dict[str, int]], batch_size: int) -> List[Tuple[str, slice]]:
    """``[(prefix, slice)]`` for a ``{name: size}`` split of a batch (see ``weighted_loss``)."""
    if not groups:
        return [("", slice(0, batch_size))]
    if sum(groups.values()) != batch_size:
        raise ValueError(f"groups {dict(groups)} cover {sum(groups.values())} samples, but the "
                         f"batch has {batch_size}")
    out, start = [], 0
    for name, size in groups.items():
        out.append((f"{name}.", slice(start, start + size)))
        start += size
    return out


def scale_to_valid_mean(losses: Dict[str, Tensor], valid: Optional[Tensor]) -> Dict[str, Tensor]:
    """Losses averaged over all pixels turned into averages over the ``valid`` ones.

    The decode losses divide by every pixel of the map (the reference's choice), so on a
    padded crop a term shrinks with its real share (a 480x320 target in a 1024² crop: x0.15).
    Multiplying ``loss_*`` entries by ``#pixels / #valid pixels`` gives the mean over the
    real pixels; other entries (accuracies) are unchanged.

    Args:
        losses (dict[str, Tensor]): ``{name: value}`` of one term.
        valid (Tensor, optional): (N, H, W) bool mask of the pixels the term averages over.
            None returns ``losses`` unchanged.
    """
    if valid is None:
        return losses
    factor = valid.numel() / valid.sum().clamp(min=1).to(torch.float32)
    return {k: v * factor if k.startswith("loss") else v for k, v in losses.items()}


# Decode losses of mmseg that accept a ``weight`` argument but do not apply per-pixel weights.
LOSSES_WITHOUT_PIXEL_WEIGHT = ("LovaszLoss",)


@MODELS.register_module()
class WeightedEncoderDecoder(EncoderDecoder):
    """mmseg's EncoderDecoder plus per-pixel-weighted losses and logit inference.

    Takes exactly the arguments of :class:`mmseg.models.segmentors.EncoderDecoder`. The decode
    head's configured ``loss_decode`` (one loss or a list) computes the loss on logits resized
    to the label size; its ``weight`` argument receives the pixel weights.
    """

    def decode_logits(self, inputs: Tensor) -> Tensor:
        """Logits at the decode head's output resolution (1/4 of the input for SegFormer)."""
        return self.decode_head.forward(self.extract_feat(inputs))

    def losses_from_logits(self, logits: Tensor, seg_label: Tensor,
                           pixel_weight: Optional[Tensor] = None,
                           head: Optional[nn.Module] = None) -> Dict[str, Tensor]:
        """Configured decode losses of ``logits`` (any resolution) against ``seg_label``.

        Args:
            logits (Tensor): (N, C, h, w) logits; resized bilinearly to the label size.
            seg_label (Tensor): (N, H, W) class ids (``ignore_index`` pixels are skipped).
            pixel_weight (Tensor, optional): (N, H, W) or (N,) weights. Default: None.
            head (nn.Module, optional): the head whose ``loss_decode`` and ``ignore_index``
                are used. Default: ``self.decode_head``.

        Returns:
            dict[str, Tensor]: ``{loss_name: value, 'acc_seg': accuracy}`` (un-prefixed).
        """
        head = head or self.decode_head
        if seg_label.dim() == 4:
            seg_label = seg_label.squeeze(1)
        logits = resize(logits, size=seg_label.shape[-2:], mode="bilinear",
                        align_corners=self.align_corners)
        loss_fns = head.loss_decode if isinstance(head.loss_decode, nn.ModuleList) \
            else [head.loss_decode]
        # Only a loss that ignores pixel weights needs the (device-synchronising) look at them.
        unweighted = [type(fn).__name__ for fn in loss_fns
                      if type(fn).__name__ in LOSSES_WITHOUT_PIXEL_WEIGHT]
        if unweighted and pixel_weight is not None and not bool((pixel_weight == 1).all()):
            raise ValueError(
                f"{unweighted[0]} in loss_decode ignores pixel weights, but this loss has some "
                "(pseudo-label confidence, padding, mixing): it would train on every "
                "pseudo-labeled and padded pixel at full weight. Use it only where all labels "
                "are true (source-only, oracle), or drop it from loss_decode")
        losses: Dict[str, Tensor] = {}
        for fn in loss_fns:
            value = fn(logits, seg_label, weight=pixel_weight, ignore_index=head.ignore_index)
            losses[fn.loss_name] = losses.get(fn.loss_name, 0) + value
        losses["acc_seg"] = accuracy(logits.detach(), seg_label, ignore_index=head.ignore_index)
        return losses

    def weighted_loss(self, inputs: Tensor, seg_label: Tensor,
                      pixel_weight: Optional[Tensor] = None,
                      groups: Optional[Dict[str, int]] = None,
                      valid: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Training losses of a batch against a label map with optional pixel weights.

        Args:
            inputs (Tensor): (N, 3, H, W) normalised images.
            seg_label (Tensor): (N, H, W) class ids at input resolution.
            pixel_weight (Tensor, optional): (N, H, W) or (N,) weights. Default: None.
            groups (dict[str, int], optional): ordered ``{prefix: number of samples}`` splitting
                the batch, e.g. ``{'src': 2, 'mix': 2}``: the network runs once on the whole
                batch, each group's loss is averaged over its own pixels and reported with its
                prefix (so the sum equals separate forward passes in eval mode; in train mode
                BatchNorm statistics are those of the whole batch). Default: None (one group,
                no prefix).
            valid (Tensor, optional): (N, H, W) bool mask of real (unpadded) pixels: each
                group's losses are averaged over its real pixels instead of all pixels
                (:func:`scale_to_valid_mean`). Default: None.

        Returns:
            dict[str, Tensor]: losses named ``[<group>.]decode.<loss>`` (``aux.`` for
            auxiliary heads).
        """
        feats = self.extract_feat(inputs)
        outputs = [("decode", self.decode_head, self.decode_head.forward(feats))]
        if self.with_auxiliary_head:
            heads = self.auxiliary_head if isinstance(self.auxiliary_head, nn.ModuleList) \
                else [self.auxiliary_head]
            for i, aux in enumerate(heads):
                outputs.append((f"aux_{i}" if len(heads) > 1 else "aux", aux, aux.forward(feats)))
        losses: Dict[str, Tensor] = {}
        for group, index in split_groups(groups, inputs.shape[0]):
            weight = None if pixel_weight is None else pixel_weight[index]
            real = None if valid is None else valid[index]
            for name, head, logits in outputs:
                term = self.losses_from_logits(logits[index], seg_label[index], weight, head=head)
                for k, v in scale_to_valid_mean(term, real).items():
                    losses[f"{group}{name}.{k}"] = v
        return losses

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        """mmseg's supervised loss, through :meth:`weighted_loss` (no pixel weights)."""
        return self.weighted_loss(inputs, stack_seg_labels(data_samples).to(inputs.device))

    def inference_logits(self, inputs: Tensor,
                         batch_img_metas: Optional[List[dict]] = None) -> Tensor:
        """Full-resolution logits (N, C, H, W) with the configured inference mode.

        Args:
            inputs (Tensor): (N, 3, H, W) normalised images.
            batch_img_metas (list[dict], optional): per-image meta; built from the input
                shape when omitted (pseudo-labelling of training crops).
        """
        if batch_img_metas is None:
            shape = tuple(inputs.shape[-2:])
            batch_img_metas = [dict(img_shape=shape, ori_shape=shape, pad_shape=shape,
                                    padding_size=[0, 0, 0, 0])] * inputs.shape[0]
        return self.inference(inputs, batch_img_metas)
