"""HRDA: multi-resolution training and inference of an encoder-decoder segmentor.

Hoyer et al., "HRDA: Context-Aware High-Resolution Domain-Adaptive Semantic Segmentation",
ECCV 2022. Written for MMSeg 1.x from the paper and the reference's documented behaviour.

Training (:meth:`HRDAEncoderDecoder.weighted_loss`), for a batch of crops of size (H, W)::

    inputs --pad to a multiple of the box divisor d--> x (H', W')
      context = resize(x, context_scale)           # the whole crop at low resolution
      detail  = x[box]                             # a random aligned box at full resolution,
                                                   # one per group, on the group's real pixels
      backbone + decoder on [context; detail]      # ONE batched pass when shapes match
      attention = sigmoid(attention decoder(context features))
      on the detail logits' grid (1/output_stride of x):
        fused = a * detail + (1 - a) * up(context)   inside the box,  up(context) outside
      loss = (1 - w_d) * CE(fused, label) + w_d * CE(detail, label[box])   (pixel-weighted)

The crops of one shape share a pass only with ``batch_crops=True``. In eval mode this gives
the same logits as separate passes; in train mode it does not: the decoders' BatchNorm layers
normalise with the statistics of each pass, so which crops share a pass changes the result.
``batch_crops='per_scale'`` is the reference's split (training: context crops in one pass,
detail crops in another; inference: the contexts in one pass, all detail windows in another).

Inference (:meth:`HRDAEncoderDecoder.scale_outputs`) runs the context pass on the whole input
and the detail decoder on sliding windows of the full-resolution input (all windows and the
context in one batch when their shapes match, or in batches of ``max_crops_per_pass``), averages
overlapping windows and fuses with the attention over the whole frame; inputs larger than the
context crop go through an outer sliding window first (``test_cfg.mode='slide'``).

The crop box is drawn inside :meth:`weighted_loss` (torch's RNG, or a generator passed as an
argument) and passed down as an argument: no state is shared between calls or set from outside.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.config import ConfigDict
from mmengine.structures import PixelData
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import OptSampleList, SampleList
from torch import Tensor

from ..decode_heads.hrda_head import HRDAHead
from ..utils import (
    CropBox,
    check_aligned,
    crop_divisor,
    fuse_scales,
    merge_windows,
    pad_to_multiple,
    sample_crop_box,
    sliding_windows,
    stack_windows,
    upsample_to,
)
from .weighted_encoder_decoder import (
    WeightedEncoderDecoder,
    scale_to_valid_mean,
    split_groups,
    stack_seg_labels,
)

BATCH_CROPS_MODES = (True, False, "per_scale")

# names of the maps scale_outputs() returns besides the fused logits, as written into the
# prediction data samples
SCALE_MAP_FIELDS = {
    "attention": "scale_attention",
    "context": "context_seg_logits",
    "detail": "detail_seg_logits",
}


def _restore_to_original(x: Tensor, meta: dict, align_corners: bool) -> Tensor:
    """Undo batch padding and flip of one (C, H, W) map and resize it to ``ori_shape``.

    The same steps as mmseg's ``BaseSegmentor.postprocess_result`` applies to ``seg_logits``.
    """
    pad = meta.get("img_padding_size", meta.get("padding_size", [0, 0, 0, 0]))
    left, right, top, bottom = pad
    height, width = x.shape[-2:]
    x = x[None, :, top:height - bottom, left:width - right]
    if meta.get("flip"):
        x = x.flip(dims=(3,) if meta.get("flip_direction") == "horizontal" else (2,))
    if "ori_shape" in meta:
        x = upsample_to(x, meta["ori_shape"], align_corners)
    return x[0]


def real_extent(valid: Tensor) -> Tuple[int, int]:
    """(h, w) of the real region common to a batch: the smallest per-sample extent of
    ``valid`` (N, H, W) from the top-left corner (padding is at the right/bottom)."""
    def extent(any_along: Tensor) -> int:  # (N, L) bool -> min over samples of last True + 1
        index = torch.arange(1, any_along.shape[1] + 1, device=any_along.device)
        return int((any_along * index).amax(dim=1).min())
    return extent(valid.any(dim=2)), extent(valid.any(dim=1))


@MODELS.register_module()
class HRDAEncoderDecoder(WeightedEncoderDecoder):
    """Multi-resolution (context + detail) encoder-decoder with learned scale attention.

    Args:
        backbone (dict): backbone config (e.g. ``MixVisionTransformer``).
        decode_head (dict): an ``HRDAHead`` config (segmentation decoder + attention decoder).
        context_scale (float): resize factor of the context crop relative to the input.
            Default: 0.5.
        detail_crop_size (Sequence[int]): (h, w) of the full-resolution detail crop in input
            pixels, for training and for the sliding detail windows at inference; multiples of
            the crop divisor. Default: (512, 512).
        detail_stride (Sequence[int]): (sh, sw) stride of the detail windows at inference in
            input pixels; multiples of the crop divisor. Default: (256, 256).
        detail_loss_weight (float): weight ``w_d`` of the detail-crop loss; the fused loss gets
            ``1 - w_d``. Default: 0.1.
        output_stride (int): input pixels per decoder logit (4 for MiT + SegFormer/DAFormer
            heads). Default: 4.
        batch_crops (bool | str): which crops share a network pass. True: all crops of one
            shape (context and detail in training; context and every detail window at
            inference) — the fastest. ``'per_scale'``: the reference's split, the context
            crops in one pass and all detail crops / windows in another. False: the contexts
            in one pass and each detail window position in its own pass. Identical logits in
            eval mode; in train mode BatchNorm statistics are per pass, so the three differ
            (DACS's ``reference_exact`` uses ``'per_scale'``). Default: True.
        keep_debug_outputs (bool): keep the last call's context/detail logits, scale
            attention, fused logits and crop box (detached) in :attr:`debug_outputs` for
            debug hooks. Default: False.
        neck, train_cfg, data_preprocessor, pretrained, init_cfg: as for mmseg's
            ``EncoderDecoder``.
        test_cfg (dict, optional): inference settings:

            - ``mode`` (str): ``'whole'`` (HRDA inference on the whole input) or ``'slide'``
              (an outer sliding window of ``crop_size`` at ``stride`` input pixels around it,
              for images larger than the training crops). Default: ``'whole'``.
            - ``max_crops_per_pass`` (int, optional): memory bound: at most this many crops
              (context images or detail windows) per network pass. Default: None (all).
            - ``output_scale_maps`` (bool): ``predict`` adds ``scale_attention``,
              ``context_seg_logits`` and ``detail_seg_logits`` to each data sample.
              Default: True.
    """

    def __init__(self, backbone: dict, decode_head: dict, context_scale: float = 0.5,
                 detail_crop_size: Sequence[int] = (512, 512),
                 detail_stride: Sequence[int] = (256, 256), detail_loss_weight: float = 0.1,
                 output_stride: int = 4, batch_crops: bool = True,
                 keep_debug_outputs: bool = False, neck: Optional[dict] = None,
                 auxiliary_head: Optional[dict] = None, train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None, data_preprocessor: Optional[dict] = None,
                 pretrained: Optional[str] = None, init_cfg: Optional[dict] = None) -> None:
        if auxiliary_head is not None:
            raise ValueError("HRDAEncoderDecoder does not support auxiliary_head (the HRDA loss "
                             "is defined on the fused decode head only); remove it")
        super().__init__(backbone=backbone, decode_head=decode_head, neck=neck,
                         train_cfg=train_cfg, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor, pretrained=pretrained,
                         init_cfg=init_cfg)
        if not isinstance(self.decode_head, HRDAHead):
            raise TypeError("HRDAEncoderDecoder needs decode_head=dict(type='HRDAHead', "
                            f"decoder=...), got {type(self.decode_head).__name__}")
        if not 0.0 <= detail_loss_weight <= 1.0:
            raise ValueError(f"detail_loss_weight must be in [0, 1], got {detail_loss_weight}")
        self.context_scale = float(context_scale)
        self.output_stride = int(output_stride)
        self.divisor = crop_divisor(self.output_stride, self.context_scale)
        self.detail_crop_size = check_aligned("detail_crop_size", detail_crop_size,
                                              self.divisor)
        self.detail_stride = check_aligned("detail_stride", detail_stride, self.divisor)
        self.detail_loss_weight = float(detail_loss_weight)
        if batch_crops not in BATCH_CROPS_MODES:
            raise ValueError(f"batch_crops must be True, False or 'per_scale', got "
                             f"{batch_crops!r}")
        self.batch_crops = batch_crops
        self.keep_debug_outputs = bool(keep_debug_outputs)
        self.debug_outputs: Dict[str, object] = {}
        self.test_cfg = ConfigDict(test_cfg or dict(mode="whole"))
        mode = self.test_cfg.get("mode", "whole")
        if mode not in ("whole", "slide"):
            raise ValueError(f"test_cfg.mode must be 'whole' or 'slide', got {mode!r}")
        if mode == "slide" and not {"crop_size", "stride"} <= set(self.test_cfg.keys()):
            raise ValueError("test_cfg.mode='slide' needs test_cfg.crop_size and test_cfg.stride "
                             f"(the outer window in input pixels), got {dict(self.test_cfg)}")
        max_crops = self.test_cfg.get("max_crops_per_pass")
        if max_crops is not None and int(max_crops) < 1:
            raise ValueError(f"test_cfg.max_crops_per_pass must be >= 1, got {max_crops}")

    # ------------------------------------------------------------------ network passes
    def _decode(self, x: Tensor, num_context: int) -> Tuple[Tensor, Optional[Tensor]]:
        """Logits of a batch of crops and the attention of its first ``num_context`` ones."""
        feats = self.extract_feat(x)
        logits = self.decode_head(feats)
        expected = (x.shape[-2] // self.output_stride, x.shape[-1] // self.output_stride)
        if tuple(logits.shape[-2:]) != expected:
            raise ValueError(f"decoder logits of a {tuple(x.shape[-2:])} crop are "
                             f"{tuple(logits.shape[-2:])}, expected {expected} for "
                             f"output_stride={self.output_stride}; set output_stride to the "
                             "decoder's stride")
        attention = None
        if num_context:
            attention = self.decode_head.attention([f[:num_context] for f in feats])
        return logits, attention

    def _decode_chunks(self, crops: Tensor, num_context: int,
                       chunk: int) -> Tuple[Tensor, Optional[Tensor]]:
        """:meth:`_decode` in passes of at most ``chunk`` crops (context crops first)."""
        if crops.shape[0] <= chunk:
            return self._decode(crops, num_context)
        logits, attention = [], []
        for start in range(0, crops.shape[0], chunk):
            part = crops[start:start + chunk]
            n_ctx = min(max(num_context - start, 0), part.shape[0])
            part_logits, part_att = self._decode(part, n_ctx)
            logits.append(part_logits)
            if part_att is not None:
                attention.append(part_att)
        return torch.cat(logits), (torch.cat(attention) if attention else None)

    def _decode_scales(self, context: Tensor, details: Tensor,
                       max_crops: Optional[int] = None) -> Tuple[Tensor, Tensor, Tensor]:
        """Context logits, context attention and detail logits of N contexts + k*N details.

        With ``batch_crops=True`` all crops of one shape share a pass (bounded by
        ``max_crops``); with ``'per_scale'`` the contexts are one pass and all details another;
        with False the contexts are one pass and every N detail crops another.
        """
        n = context.shape[0]
        if self.batch_crops is True and context.shape[1:] == details.shape[1:]:
            crops = torch.cat([context, details])
            logits, attention = self._decode_chunks(crops, n, max_crops or crops.shape[0])
            return logits[:n], attention, logits[n:]
        context_logits, attention = self._decode_chunks(context, n, max_crops or n)
        chunk = (max_crops or details.shape[0]) if self.batch_crops else min(n, max_crops or n)
        detail_logits, _ = self._decode_chunks(details, 0, chunk)
        return context_logits, attention, detail_logits

    def _context_input(self, x: Tensor) -> Tensor:
        if self.context_scale == 1.0:
            return x
        # int(): under the ONNX exporter's tracer the sizes are tensors, which round() refuses
        size = (round(int(x.shape[-2]) * self.context_scale),
                round(int(x.shape[-1]) * self.context_scale))
        return resize(x, size=size, mode="bilinear", align_corners=self.align_corners,
                      warning=False)

    def _to_input_frame(self, x: Tensor, padded_size: Sequence[int],
                        size: Sequence[int]) -> Tensor:
        """Maps on the fusion grid of a padded input -> maps at the input's pixel size."""
        x = upsample_to(x, padded_size, self.align_corners)
        return x[..., :size[0], :size[1]]

    # ------------------------------------------------------------------ training
    def forward_train_scales(self, inputs: Tensor,
                             box: Union[CropBox, Sequence[Tuple[slice, CropBox]]]
                             ) -> Dict[str, Tensor]:
        """HRDA training forward (no loss).

        Args:
            inputs (Tensor): (N, 3, H, W) normalised images.
            box (CropBox | Sequence[tuple[slice, CropBox]]): the detail box in input pixels,
                aligned to :attr:`divisor` — one for the batch, or one per consecutive slice
                of the batch (the slices cover it in order).

        Returns:
            dict[str, Tensor]: on the fusion grid (1/output_stride of the input padded to a
            multiple of :attr:`divisor`): ``fused`` and ``context`` (N, C, ...), ``attention``
            (N, C or 1, ...); ``detail`` (N, C, h/os, w/os) logits of the box.
        """
        x = pad_to_multiple(inputs, self.divisor)
        grid = (x.shape[-2] // self.output_stride, x.shape[-1] // self.output_stride)
        parts = [(slice(0, x.shape[0]), box)] if isinstance(box, CropBox) else list(box)
        details = parts[0][1].crop(x) if len(parts) == 1 else \
            torch.cat([b.crop(x[index]) for index, b in parts])
        context_logits, attention, detail = self._decode_scales(self._context_input(x),
                                                                details)
        context = upsample_to(context_logits, grid, self.align_corners)
        attention = upsample_to(attention, grid, self.align_corners)
        fused = [fuse_scales(context[index], attention[index], detail[index],
                             b.scaled(1 / self.output_stride)) for index, b in parts]
        fused = fused[0] if len(fused) == 1 else torch.cat(fused)
        return dict(fused=fused, context=context, attention=attention, detail=detail)

    def _check_box(self, box: CropBox, size: Sequence[int]) -> CropBox:
        box = CropBox(*(int(v) for v in box))
        if any(v % self.divisor for v in box) or box.height <= 0 or box.width <= 0 \
                or box.y1 < 0 or box.x1 < 0 or box.y2 > size[0] or box.x2 > size[1]:
            raise ValueError(f"crop_box {tuple(box)} (y1, y2, x1, x2) must lie inside the "
                             f"{tuple(size)} input with coordinates divisible by {self.divisor}")
        return box

    def weighted_loss(self, inputs: Tensor, seg_label: Tensor,
                      pixel_weight: Optional[Tensor] = None,
                      groups: Optional[Dict[str, int]] = None, *,
                      crop_box: Optional[Sequence[int]] = None,
                      generator: Optional[torch.Generator] = None,
                      valid_size: Optional[Sequence[int]] = None,
                      valid: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """HRDA training losses of a batch (the groups share the network passes).

        Args:
            inputs (Tensor): (N, 3, H, W) normalised images.
            seg_label (Tensor): (N, H, W) class ids at input resolution.
            pixel_weight (Tensor, optional): (N, H, W) or (N,) weights multiplying the
                per-pixel CE of both terms. Default: None.
            groups (dict[str, int], optional): ordered ``{prefix: number of samples}``; each
                group's losses are averaged over its own pixels and prefixed (see
                :meth:`WeightedEncoderDecoder.weighted_loss`). Default: None.
            crop_box (Sequence[int], optional): detail box ``(y1, y2, x1, x2)`` in input
                pixels for every group; when None, one box per group is drawn at random
                (aligned to :attr:`divisor`), as the reference draws one per forward pass.
                Default: None.
            generator (torch.Generator, optional): CPU generator for the box; torch's global
                RNG when None. Default: None.
            valid_size (Sequence[int], optional): (h, w) of real pixels common to all images
                (the smallest ``img_shape`` before batch padding): the random box stays on
                them, so no detail crop is padding only (a constant crop has zero-variance
                LayerNorm inputs and, from zero-bias initialisation, non-finite gradients).
                Default: None (no padding).
            valid (Tensor, optional): (N, H, W) bool mask of real pixels (padding at the
                right/bottom is False), e.g. from the image metas. Replaces ``valid_size``:
                each group's box lies inside the smallest real region of its samples (where
                it fits; it starts at 0 along a side where it does not), and each loss term
                is averaged over the real pixels it covers instead of over all pixels.
                Default: None.

        Returns:
            dict[str, Tensor]: ``[<group>.]decode.loss_*`` = (1 - w_d) * CE(fused),
            ``[<group>.]detail.loss_*`` = w_d * CE(detail), and ``*.acc_seg`` accuracies.
        """
        if seg_label.dim() == 4:
            seg_label = seg_label.squeeze(1)
        size = tuple(inputs.shape[-2:])
        splits = split_groups(groups, inputs.shape[0])
        if crop_box is not None:
            boxes = [self._check_box(CropBox(*crop_box), size)] * len(splits)
        else:
            boxes = [sample_crop_box(size, self.detail_crop_size, self.divisor, generator,
                                     valid_size if valid is None else
                                     real_extent(valid[index]))
                     for _, index in splits]
        parts = [(index, box) for (_, index), box in zip(splits, boxes)]
        out = self.forward_train_scales(inputs, boxes[0] if len(set(boxes)) == 1 else parts)
        padded = tuple(n * self.output_stride for n in out["fused"].shape[-2:])
        fused = out["fused"] if padded == size else self._to_input_frame(out["fused"], padded,
                                                                          size)
        if self.keep_debug_outputs:
            self.debug_outputs = {k: v.detach() for k, v in out.items()}
            self.debug_outputs["crop_box"] = boxes[0]
            self.debug_outputs["crop_boxes"] = boxes
        weights = {"decode": 1.0 - self.detail_loss_weight, "detail": self.detail_loss_weight}
        losses: Dict[str, Tensor] = {}
        for (group, index), box in zip(splits, boxes):
            weight = None if pixel_weight is None else pixel_weight[index]
            detail_weight = weight if weight is None or weight.dim() == 1 else box.crop(weight)
            real = None if valid is None else valid[index]
            terms = (("decode", fused[index], seg_label[index], weight, real),
                     ("detail", out["detail"][index], box.crop(seg_label[index]), detail_weight,
                      None if real is None else box.crop(real)))
            for name, logits, label, w, term_valid in terms:
                term = scale_to_valid_mean(self.losses_from_logits(logits, label, w), term_valid)
                for key, value in term.items():
                    if key.startswith("loss"):
                        value = value * weights[name]
                    losses[f"{group}{name}.{key}"] = value
        return losses

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        """mmseg's supervised loss: :meth:`weighted_loss` with the box kept on real pixels."""
        valid = [s.metainfo.get("img_shape", inputs.shape[-2:]) for s in data_samples]
        valid_size = (min(int(v[0]) for v in valid), min(int(v[1]) for v in valid))
        return self.weighted_loss(inputs, stack_seg_labels(data_samples).to(inputs.device),
                                  valid_size=valid_size)

    # ------------------------------------------------------------------ inference
    def _hrda_inference(self, inputs: Tensor, with_maps: bool) -> Dict[str, Tensor]:
        """Context pass + sliding detail windows + fusion over the whole input.

        Returns full-resolution maps: ``seg_logits`` and, with ``with_maps``, ``context``,
        ``detail`` (logits) and ``attention``.
        """
        size = tuple(inputs.shape[-2:])
        x = pad_to_multiple(inputs, self.divisor)
        padded = tuple(x.shape[-2:])
        grid = (padded[0] // self.output_stride, padded[1] // self.output_stride)
        boxes = sliding_windows(padded, self.detail_crop_size, self.detail_stride, self.divisor)
        context_logits, attention, window_logits = self._decode_scales(
            self._context_input(x), stack_windows(x, boxes),
            self.test_cfg.get("max_crops_per_pass"))
        maps = dict(
            context=upsample_to(context_logits.float(), grid, self.align_corners),
            attention=upsample_to(attention.float(), grid, self.align_corners),
            detail=merge_windows(window_logits.float(), boxes, grid,
                                 scale=1 / self.output_stride))
        out = dict(seg_logits=fuse_scales(maps["context"], maps["attention"], maps["detail"]))
        if with_maps:
            out.update(maps)
        return {k: self._to_input_frame(v, padded, size) for k, v in out.items()}

    def scale_outputs(self, inputs: Tensor, with_maps: bool = True) -> Dict[str, Tensor]:
        """HRDA inference with the configured outer window; every map at input resolution.

        Args:
            inputs (Tensor): (N, 3, H, W) normalised images.
            with_maps (bool): also return the context/detail logits and the attention.
                Default: True.

        Returns:
            dict[str, Tensor]: ``seg_logits`` (N, C, H, W) fused logits (float32) and, with
            ``with_maps``, ``context`` and ``detail`` (N, C, H, W) logits and ``attention``
            (N, C or 1, H, W) in [0, 1].
        """
        size = tuple(inputs.shape[-2:])
        crop = self.test_cfg.get("crop_size")
        if self.test_cfg.get("mode", "whole") == "whole" or \
                (size[0] <= crop[0] and size[1] <= crop[1]):
            out = self._hrda_inference(inputs, with_maps)
        else:
            boxes = sliding_windows(size, crop, self.test_cfg.stride)
            windows = self._hrda_inference(stack_windows(inputs, boxes), with_maps)
            out = {k: merge_windows(v, boxes, size) for k, v in windows.items()}
        if self.keep_debug_outputs:
            self.debug_outputs = {k: v.detach() for k, v in out.items()}
        return out

    def inference(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """Fused logits (N, C, H, W) of HRDA inference (mmseg's inference entry point)."""
        return self.scale_outputs(inputs, with_maps=False)["seg_logits"]

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """HRDA inference without the outer window: fused logits at input resolution."""
        return self._hrda_inference(inputs, with_maps=False)["seg_logits"]

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        """Tensor mode: the fused logits."""
        return self.inference(inputs, [])

    def predict(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        """Predictions with the scale maps for visualisation.

        Each data sample gets ``seg_logits`` and ``pred_sem_seg`` (as in mmseg) and, when
        ``test_cfg.output_scale_maps`` (default True), ``scale_attention`` (C or 1 channels,
        in [0, 1]), ``context_seg_logits`` and ``detail_seg_logits`` — each un-padded,
        un-flipped and resized to the original image like ``seg_logits``.
        """
        with_maps = bool(self.test_cfg.get("output_scale_maps", True))
        out = self.scale_outputs(inputs, with_maps=with_maps)
        samples = self.postprocess_result(out["seg_logits"], data_samples)
        if with_maps:
            for i, sample in enumerate(samples):
                for key, field in SCALE_MAP_FIELDS.items():
                    data = _restore_to_original(out[key][i], sample.metainfo, self.align_corners)
                    sample.set_field(PixelData(data=data), field)
        return samples
