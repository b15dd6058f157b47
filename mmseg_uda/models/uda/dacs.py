"""DACS self-training with a mean teacher, for any segmentor of the project's contract.

One training iteration (:meth:`DACS.loss`, batch of B source + B target crops):

1. teacher update: EMA of the student (step 0 copies it);
2. source loss: the student against the source labels;
3. pseudo-labels: the teacher's arg-max on the target crops, with confidence weights
   (zero on padding and in optional border margins);
4. ClassMix: per sample, half of the classes of *that* source label map pasted onto the
   target crop; mixed label/weight = source label/1 there, pseudo-label/weight elsewhere;
   then colour jitter and Gaussian blur of the mixed image;
5. mixed loss: the student against the mixed labels with the mixed pixel weights;
6. optional methods beyond DACS (each off by default, see :class:`DACS`): MIC (masked
   target images against the pseudo-labels of the unmasked ones), feature alignment
   (DANN / CORAL / MMD between source and target backbone features) and the ImageNet
   feature distance (student vs frozen pretrained backbone on source crops).

Everything happens inside ``loss()``, which returns one loss dict: MMEngine's default
``train_step`` (one backward, one optimizer step), its DDP wrapper, AMP and gradient
accumulation work unchanged (a model that overrides ``train_step`` instead is silently
bypassed by ``MMDistributedDataParallel``). With ``batched_student=True`` (default) the
student runs once on ``[source; mixed]`` — the pseudo-labels do not depend on the student's
source pass, so they are computed first; ``batched_student=False`` runs the two student
passes separately, like the reference. The two give the same losses in eval mode only: in
train mode the BatchNorm layers (SegFormer / DAFormer decoders) normalise with the statistics
of each pass. ``reference_exact=True`` reproduces the reference's pass split (student: one
pass per group and, for HRDA, per scale; teacher: contexts in one pass, all detail windows in
another) and its photometric augmentation (kornia 0.5.8 colour jitter, decided per batch).

Padded crops (images smaller than the crop): every student loss term is averaged over the
real pixels of its images (source: the source image, mixed and MIC: the target image), and
an HRDA student draws each group's detail box inside the real region of its images.

The segmentor must implement ``weighted_loss(inputs, seg_label, pixel_weight, groups)`` and
``inference_logits(inputs, batch_img_metas)`` (see
:class:`~mmseg_uda.models.segmentors.WeightedEncoderDecoder`); an optional
``debug_outputs`` dict on it is shown by :class:`~mmseg_uda.engine.hooks.UDADebugHook`.
"""

from __future__ import annotations

import copy
import inspect
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmseg.registry import MODELS
from mmseg.utils import SampleList
from torch import Tensor

from ..adaptation.functional import block_mask, masked_feature_distance
from ..data_preprocessors import UDASegDataPreProcessor
from ..segmentors.weighted_encoder_decoder import stack_seg_labels
from ..utils import pad_to_multiple
from . import functional as UF
from .teacher import build_ema_teacher, disable_stochastic_layers

EVAL_MODELS = ("student", "teacher")
MIC_DEFAULTS = dict(block_size=64, mask_ratio=0.7, loss_weight=1.0, color_aug=True)
FD_DEFAULTS = dict(loss_weight=0.005, classes=None, scale_min_ratio=0.75, in_index=-1)


def _options(name: str, given: dict, defaults: dict) -> dict:
    """``defaults`` updated with ``given``; unknown keys raise a ValueError naming them."""
    unknown = set(given) - set(defaults)
    if unknown:
        raise ValueError(f"{name}: unknown option(s) {sorted(unknown)}; expected some of "
                         f"{sorted(defaults)}")
    return dict(defaults, **given)


def _pretrained_checkpoint(backbone: nn.Module) -> Optional[str]:
    """The checkpoint path of a backbone's pretrained ``init_cfg`` (None without one)."""
    cfgs = getattr(backbone, "init_cfg", None)
    cfgs = cfgs if isinstance(cfgs, (list, tuple)) else [cfgs]
    for cfg in cfgs:
        if isinstance(cfg, dict) and cfg.get("checkpoint"):
            return str(cfg["checkpoint"])
    return None


@MODELS.register_module()
class DACS(BaseModel):
    """DACS (ClassMix self-training) with an EMA teacher around a segmentor.

    Args:
        segmentor (dict): config of the segmentor to adapt (the student), e.g. a
            ``WeightedEncoderDecoder`` or an HRDA segmentor. Its own ``data_preprocessor`` is
            not used (this model preprocesses both branches) and is dropped.
        data_preprocessor (dict, optional): a ``UDASegDataPreProcessor`` config. Default: None
            (the segmentor's preprocessor settings with the paired type).
        source_only (bool): the baseline: the same model, data and logs, but only the source
            loss (no teacher, no pseudo-labels, no mixing). Default: False.
        alpha (float): EMA coefficient cap of the teacher, in (0, 1); the coefficient at
            iteration t is ``min(1 - 1/(t + 1), alpha)``. Default: 0.999.
        pseudo_logit_adjustment (Sequence[float], optional): one value per class added to the
            teacher's logits before pseudo-labelling, e.g. ``(0, -log 5)`` when the segmentor's
            loss has ``class_weight=(1, 5)``: such a network's arg-max decides "defect" at
            p = 1/6, so its pseudo-labels are too thick, and self-training on them thickens
            them further at every round. See :func:`.functional.pseudo_labels`.
            Default: None.
        pseudo_threshold (float): confidence threshold ``tau`` of the pseudo-label weights.
            Default: 0.968.
        pseudo_weight (str): how confidence becomes a loss weight: ``'batch'`` (reference:
            one scalar, the fraction of pixels with confidence >= tau), ``'image'`` (that
            fraction per image), ``'pixel'`` (1 where confidence >= tau, else 0) or ``'soft'``
            (the confidence itself) or ``'class_balanced'`` (1 for pixels >= tau or among the
            ``pseudo_keep_ratio`` most confident of their pseudo-class in the batch). See
            :func:`.functional.confidence_weight`. Default: ``'batch'``.
        pseudo_keep_ratio (float): fraction of each pseudo-class kept by
            ``'class_balanced'``, in (0, 1]. Default: 0.5.
        pseudo_class_weight (Sequence[float], optional): multiplier of the weight of each
            pseudo-labeled pixel by its pseudo-class, e.g. ``(1, 0.2)`` to cancel a
            ``class_weight=(1, 5)`` of the segmentor's loss on pseudo-labels: class weights
            correct the imbalance of *true* labels, on pseudo-labels they amplify the
            teacher's own bias. Source pixels pasted by ClassMix keep weight 1.
            Default: None (no change).
        crop_border_margin (int | Sequence[int]): pseudo-labels within this many pixels of
            the borders of each *training crop* get weight 0; one value or
            ``(top, bottom, left, right)``. Not the reference's image-relative margins (set on
            the whole image before cropping): a margin of an image side, e.g. 240 px of a
            conveyor edge, would mask most of every crop here. Default: 0.
        border_margin: the former name of ``crop_border_margin``; a ValueError says so.
        mix_exclude_classes (Sequence[int]): classes never pasted by ClassMix, besides the
            ignore label (e.g. ``(0,)`` pastes only defects). Default: () (reference).
        color_jitter_prob (float): probability that a mixed image (the batch, with
            ``reference_exact``) is colour-jittered. Default: 0.8.
        color_jitter_strength (float): brightness/contrast/saturation factors in
            ``[1 - s, 1 + s]``, hue shift in ``[-s, s]``; torchvision semantics
            (:func:`.functional.color_jitter`), or kornia 0.5.8's with ``reference_exact``
            (:func:`.functional.color_jitter_reference`). Default: 0.2.
        blur_prob (float): probability that a mixed image (the batch, with
            ``reference_exact``) is Gaussian-blurred. Default: 0.5.
        blur_sigma (tuple[float, float]): range of the blur sigma in pixels.
            Default: (0.15, 1.15).
        batched_student (bool): one student pass over ``[source; mixed]`` (True) or two
            separate passes like the reference (False). Equal losses in eval mode; in train
            mode BatchNorm statistics are per pass, so the two differ. Default: True.
        reference_exact (bool): reproduce the reference's train-mode computation: separate
            student passes for source, mixed and MIC images (implies
            ``batched_student=False``), an HRDA student and teacher with
            ``batch_crops='per_scale'`` (context crops in one pass, detail crops / windows in
            another, one detail box per pass), and colour jitter / blur with kornia 0.5.8's
            semantics and one apply/skip decision per batch. Default: False (the batched
            fast path, torchvision jitter semantics, per-image decisions).
        eval_model (str): network used by ``predict``/``val``/``test``: ``'student'`` or
            ``'teacher'``. Default: ``'student'``.
        background_index (int): the non-defect class (for the pseudo-label statistics).
            Default: 0.
        mic (dict, optional): MIC, masked image consistency (Hoyer et al., CVPR 2023). The
            target crop (colour-jittered and blurred like the mixed images when
            ``color_aug``) is masked in random square blocks (masked pixels are 0 in
            normalised space, i.e. the mean colour) and the student learns the teacher's
            pseudo-labels of the *unmasked* crop on it, with the same confidence weights.
            Keys: ``block_size`` (px, default 64), ``mask_ratio`` (probability that a block
            is masked, default 0.7), ``loss_weight`` (default 1.0), ``color_aug`` (default
            True). With ``batched_student`` the masked crops join the student's
            ``[source; mixed]`` pass (one HRDA detail box for all). Needs the teacher (not
            with ``source_only``). Default: None (off).
        alignment (dict, optional): a feature-alignment module of the MODELS registry —
            ``DANNAlignment`` (adversarial, needs ``in_channels`` of the aligned stage),
            ``CORALAlignment`` or ``MMDAlignment`` — applied to the student's backbone
            features of the source and target crops. The features come from one extra
            *backbone-only* pass over ``[source; target]`` (for HRDA on the context view,
            1/4 of the pixels): the segmentor's ``weighted_loss`` runs on the mixed images
            (and HRDA's context/detail crops), which contain no plain target crop, so the
            target needs its own pass anyway; a joint pass gives both domains the same
            network state and keeps the segmentor contract unchanged. The DANN
            discriminator is a submodule of this model, so the optimizer trains it. Works
            with ``source_only`` too (plain DANN/CORAL/MMD without self-training).
            Default: None (off).
        imnet_feature_dist (dict, optional): ImageNet feature distance (DAFormer): the L2
            distance between the student's backbone features of the source crops and those
            of a frozen copy of the *pretrained* backbone, on feature pixels whose label
            patch is more than ``scale_min_ratio`` one of ``classes``. Keys: ``loss_weight``
            (default 0.005), ``classes`` (None = all pixels), ``scale_min_ratio`` (0.75),
            ``in_index`` (backbone stage, -1). The copy is filled in :meth:`init_weights`,
            right after the student's pretrained weights are loaded (the Runner calls it
            before ``load_from`` / ``resume``, so a resumed run compares with the pretrained
            weights, not the resumed student); it is not a registered submodule, so it is
            neither optimised nor saved in checkpoints. The student's backbone must have a
            pretrained ``init_cfg`` (a ValueError says so otherwise). Default: None (off).
        max_iters (int, optional): length of training for the DANN schedule's progress
            ``p = iteration / max_iters``; with it, the iteration is this model's own count of
            ``loss()`` calls (a buffer saved in checkpoints, so resuming continues it).
            Default: None: ``iter`` / ``max_iters`` of MMEngine's message hub (set by the
            Runner, restored on resume).
        init_cfg (dict, optional): MMEngine initialisation config. Default: None.

    The log gets the student's losses as ``src.*`` and ``mix.*`` and pseudo-label
    statistics as ``pseudo.*`` (mean weight, mean confidence, fraction of pixels
    pseudo-labeled as a defect, mean weight of those; with more than one defect class also
    each class's pixel fraction ``pseudo.class{k}_fraction`` and share of the pseudo-label
    weight ``pseudo.class{k}_weight``, k the class id), ``mic.*`` (MIC losses and the masked
    fraction), ``align.*`` (alignment losses/statistics) and ``fdist.*`` (feature distance);
    when the target pipeline loads masks (diagnosis only — they never enter a loss),
    ``pseudo.hidden_defect_iou`` compares the pseudo-labels with them.
    """

    def __init__(self, segmentor: dict, data_preprocessor: Optional[dict] = None,
                 source_only: bool = False, alpha: float = 0.999,
                 pseudo_logit_adjustment: Optional[Sequence[float]] = None,
                 pseudo_threshold: float = 0.968, pseudo_weight: str = "batch",
                 pseudo_keep_ratio: float = 0.5,
                 pseudo_class_weight: Optional[Sequence[float]] = None,
                 crop_border_margin: Union[int, Sequence[int]] = 0,
                 mix_exclude_classes: Sequence[int] = (), color_jitter_prob: float = 0.8,
                 color_jitter_strength: float = 0.2, blur_prob: float = 0.5,
                 blur_sigma: Tuple[float, float] = (0.15, 1.15), batched_student: bool = True,
                 reference_exact: bool = False,
                 eval_model: str = "student", background_index: int = 0,
                 mic: Optional[dict] = None, alignment: Optional[dict] = None,
                 imnet_feature_dist: Optional[dict] = None, max_iters: Optional[int] = None,
                 init_cfg: Optional[dict] = None, border_margin=None) -> None:
        if border_margin is not None:
            raise ValueError(
                "DACS: border_margin was renamed crop_border_margin: the margin is relative "
                "to each training crop, not to the image (the reference's image-relative "
                "margins are not implemented)")
        segmentor = copy.deepcopy(dict(segmentor))
        seg_preprocessor = segmentor.pop("data_preprocessor", None)
        if data_preprocessor is None:
            if not seg_preprocessor:
                raise ValueError("DACS needs a data_preprocessor (or one in the segmentor "
                                 "config to derive it from)")
            data_preprocessor = dict(seg_preprocessor, type="UDASegDataPreProcessor")
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not isinstance(self.data_preprocessor, UDASegDataPreProcessor):
            raise TypeError(
                f"DACS needs model.data_preprocessor of type 'UDASegDataPreProcessor' (it "
                f"preprocesses the source and target branches), got "
                f"{type(self.data_preprocessor).__name__}")
        if eval_model not in EVAL_MODELS:
            raise ValueError(f"eval_model must be one of {EVAL_MODELS}, got {eval_model!r}")
        if source_only and eval_model == "teacher":
            raise ValueError("source_only=True has no teacher; use eval_model='student'")
        if pseudo_weight not in UF.WEIGHT_MODES:
            raise ValueError(f"pseudo_weight must be one of {UF.WEIGHT_MODES}, got "
                             f"{pseudo_weight!r}")
        for name, p in (("color_jitter_prob", color_jitter_prob), ("blur_prob", blur_prob),
                        ("pseudo_threshold", pseudo_threshold)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {p}")
        if not 0.0 < blur_sigma[0] <= blur_sigma[1]:
            raise ValueError(f"blur_sigma must satisfy 0 < low <= high, got {blur_sigma}")

        self.student = MODELS.build(segmentor)
        for method in ("weighted_loss", "inference_logits"):
            if not callable(getattr(self.student, method, None)):
                raise TypeError(f"segmentor {type(self.student).__name__} has no {method}(); "
                                "DACS needs the WeightedEncoderDecoder contract")
        params = inspect.signature(self.student.weighted_loss).parameters
        # the plain contract (inputs, seg_label, pixel_weight, groups) gets no ``valid``
        self._takes_valid = "valid" in params or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        self.reference_exact = bool(reference_exact)
        if self.reference_exact and hasattr(self.student, "batch_crops"):
            self.student.batch_crops = "per_scale"  # before the teacher copies the student
        self.source_only = bool(source_only)
        self.teacher = None if self.source_only else build_ema_teacher(self.student, alpha)
        self.alpha = float(alpha)
        self.pseudo_threshold = float(pseudo_threshold)
        self.pseudo_weight = pseudo_weight
        self.pseudo_logit_adjustment = None if pseudo_logit_adjustment is None else \
            tuple(float(v) for v in pseudo_logit_adjustment)
        if not 0.0 < pseudo_keep_ratio <= 1.0:
            raise ValueError(f"pseudo_keep_ratio must be in (0, 1], got {pseudo_keep_ratio}")
        self.pseudo_keep_ratio = float(pseudo_keep_ratio)
        self.pseudo_class_weight = None if pseudo_class_weight is None else \
            tuple(float(w) for w in pseudo_class_weight)
        self.crop_border_margin = crop_border_margin
        self.mix_exclude_classes = tuple(int(c) for c in mix_exclude_classes)
        self.color_jitter_prob = float(color_jitter_prob)
        self.color_jitter_strength = float(color_jitter_strength)
        self.blur_prob = float(blur_prob)
        self.blur_sigma = (float(blur_sigma[0]), float(blur_sigma[1]))
        self.batched_student = bool(batched_student) and not self.reference_exact
        self.eval_model = eval_model
        self.background_index = int(background_index)
        self.ignore_index = int(getattr(self.student.decode_head, "ignore_index", 255))
        # Detached tensors of the last training iteration, for UDADebugHook (read only).
        self.debug_outputs: Dict[str, Tensor] = {}
        self._init_methods(mic, alignment, imnet_feature_dist, max_iters)

    def _init_methods(self, mic: Optional[dict], alignment: Optional[dict],
                      imnet_feature_dist: Optional[dict], max_iters: Optional[int]) -> None:
        """Check and build the optional MIC / alignment / feature-distance parts."""
        self.mic = None
        if mic is not None:
            if self.source_only:
                raise ValueError("mic needs the teacher's pseudo-labels; it cannot be used "
                                 "with source_only=True")
            self.mic = _options("mic", dict(mic), MIC_DEFAULTS)
            if not 0.0 <= float(self.mic["mask_ratio"]) <= 1.0:
                raise ValueError(f"mic.mask_ratio must be in [0, 1], got "
                                 f"{self.mic['mask_ratio']}")
            if int(self.mic["block_size"]) < 1:
                raise ValueError(f"mic.block_size must be >= 1, got {self.mic['block_size']}")
        self.alignment = None
        if alignment is not None:
            self.alignment = MODELS.build(alignment)
            if not isinstance(self.alignment, nn.Module):
                raise TypeError(f"alignment must build an nn.Module (DANNAlignment, "
                                f"CORALAlignment, MMDAlignment), got "
                                f"{type(self.alignment).__name__}")
        if max_iters is not None and int(max_iters) < 1:
            raise ValueError(f"max_iters must be >= 1, got {max_iters}")
        self.max_iters = None if max_iters is None else int(max_iters)
        if self.alignment is not None and self.max_iters is not None:
            # own iteration count for the DANN schedule, saved with the model (resume)
            self.register_buffer("align_iter", torch.zeros((), dtype=torch.long))
        self.imnet_feature_dist = None
        # the frozen pretrained backbone, in a list so that it is not a submodule: not in
        # the optimizer, not in checkpoints, not moved by .to() (moved when used)
        self._imnet_backbone: list = []
        self._imnet_ready = False
        if imnet_feature_dist is not None:
            self.imnet_feature_dist = _options("imnet_feature_dist", dict(imnet_feature_dist),
                                               FD_DEFAULTS)
            if _pretrained_checkpoint(self.student.backbone) is None:
                raise ValueError(
                    "imnet_feature_dist compares the student with its *pretrained* backbone, "
                    "but the backbone has no pretrained weights: set "
                    "model.segmentor.backbone.init_cfg=dict(type='MiTPretrained', "
                    "checkpoint=...) (e.g. the MIT_B5_WEIGHTS file), or remove "
                    "imnet_feature_dist")
            frozen = copy.deepcopy(self.student.backbone)
            frozen.requires_grad_(False)
            disable_stochastic_layers(frozen)
            self._imnet_backbone.append(frozen.eval())

    def init_weights(self) -> None:
        """Initialise the student (pretrained backbone), then copy it for the feature distance.

        The Runner calls this before ``load_from`` / ``resume``, so the frozen copy always
        holds the pretrained weights.
        """
        super().init_weights()
        if self._imnet_backbone:
            frozen = self._imnet_backbone[0]
            frozen.load_state_dict(self.student.backbone.state_dict())
            frozen.requires_grad_(False)
            frozen.eval()
            self._imnet_ready = True

    # ------------------------------------------------------------------ properties
    @property
    def eval_segmentor(self):
        """The network that ``predict`` uses (student, or teacher with ``eval_model``)."""
        return self.teacher.module if self.eval_model == "teacher" else self.student

    def inference_model(self):
        """The segmentor that the prediction API (:mod:`mmseg_uda.apis`) uses."""
        return self.eval_segmentor

    @property
    def teacher_steps(self) -> int:
        """Number of teacher updates so far (0 before the first iteration / source-only)."""
        return 0 if self.teacher is None else int(self.teacher.steps)

    def train(self, mode: bool = True) -> DACS:
        """Set train/eval mode; the teacher's Dropout/DropPath layers always stay off."""
        super().train(mode)
        if self.teacher is not None:
            disable_stochastic_layers(self.teacher)
        for frozen in self._imnet_backbone:
            frozen.eval()
        return self

    # ------------------------------------------------------------------ forward modes
    def forward(self, inputs, data_samples=None, mode: str = "tensor"):
        """MMEngine's entry point: ``mode`` is ``'loss'``, ``'predict'`` or ``'tensor'``."""
        if mode == "loss":
            return self.loss(inputs, data_samples)
        if mode == "predict":
            return self.predict(inputs, data_samples)
        if mode == "tensor":
            return self.eval_segmentor._forward(inputs, data_samples)
        raise ValueError(f"invalid mode {mode!r}; expected 'loss', 'predict' or 'tensor'")

    def predict(self, inputs: Tensor, data_samples: Optional[SampleList] = None) -> SampleList:
        """Segment a (validation / test) batch with the student or the teacher."""
        return self.eval_segmentor.predict(inputs, data_samples)

    def loss(self, inputs: Dict[str, Tensor],
             data_samples: Dict[str, SampleList]) -> Dict[str, Tensor]:
        """One self-training iteration; returns every loss and statistic to log.

        Args:
            inputs (dict[str, Tensor]): ``source`` and ``target`` (B, 3, H, W) normalised
                crops from ``UDASegDataPreProcessor``.
            data_samples (dict[str, list]): ``source`` samples with ``gt_sem_seg``, ``target``
                samples (masks, if any, are used only for the ``pseudo.hidden_*`` log).

        Returns:
            dict[str, Tensor]: ``src.*`` and ``mix.*`` losses (summed by MMEngine), and
            ``pseudo.*`` / ``mix.pasted_fraction`` statistics.
        """
        source, target, source_samples, target_samples = self._unpack(inputs, data_samples)
        source_label = stack_seg_labels(source_samples).to(source.device)
        b = source.shape[0]
        src_real = self._real_pixels(source_samples, source)
        tgt_real = self._real_pixels(target_samples, target)
        student_loss = self._student_loss
        if self.source_only:
            self._keep_debug(source=source, target=target, source_label=source_label)
            losses = student_loss(source, source_label, None, {"src": b}, [src_real])
            losses.update(self.feature_losses(source, source_label, target))
            return losses

        losses: Dict[str, Tensor] = {}
        # 1. Teacher update: EMA of the student weights (iteration 0 copies them).
        self.update_teacher()
        # 2. Source loss — in a separate student pass only in the reference-like mode.
        if not self.batched_student:
            losses.update(student_loss(source, source_label, None, {"src": b}, [src_real]))
        # 3. Pseudo-labels and their confidence weights from the teacher (no gradient).
        pseudo_label, pseudo_weight, stats = self.pseudo_label(target, target_samples)
        losses.update(stats)
        # 4. ClassMix (per sample) + colour jitter / blur of the mixed images.
        mix_mask, mixed_img, mixed_label, mixed_weight = self.class_mix(
            source, source_label, target, pseudo_label, pseudo_weight, tgt_real)
        losses["mix.pasted_fraction"] = mix_mask.float().mean()
        # MIC: the masked target crop, learnt against the pseudo-labels of the unmasked one.
        masked_img = None
        if self.mic is not None:
            masked_img, keep = self.mask_target(target)
            losses["mic.masked_fraction"] = 1.0 - keep.mean()
        # 5. Mixed loss (and, batched, the source loss and MIC in the same student pass).
        if self.batched_student:
            imgs = [source, mixed_img]
            labels = [source_label, mixed_label]
            weights = [torch.ones_like(mixed_weight), mixed_weight]
            groups = {"src": b, "mix": b}
            real = [src_real, tgt_real]
            if masked_img is not None:
                imgs.append(masked_img)
                labels.append(pseudo_label)
                weights.append(pseudo_weight)
                groups["mic"] = b
                real.append(tgt_real)
            student_losses = student_loss(torch.cat(imgs), torch.cat(labels),
                                          torch.cat(weights), groups, real)
        else:
            student_losses = student_loss(mixed_img, mixed_label, mixed_weight, {"mix": b},
                                          [tgt_real])
            if masked_img is not None:
                student_losses.update(student_loss(masked_img, pseudo_label, pseudo_weight,
                                                   {"mic": b}, [tgt_real]))
        if masked_img is not None:
            scale = float(self.mic["loss_weight"])
            student_losses = {k: v * scale if k.startswith("mic.") and "loss" in k else v
                              for k, v in student_losses.items()}
        losses.update(student_losses)
        # 6. Feature alignment / ImageNet feature distance (optional).
        losses.update(self.feature_losses(source, source_label, target))
        debug = {} if masked_img is None else dict(mic_masked=masked_img)
        self._keep_debug(source=source, target=target, mixed=mixed_img,
                         source_label=source_label, pseudo_label=pseudo_label,
                         pseudo_weight=pseudo_weight, mixed_label=mixed_label,
                         mixed_weight=mixed_weight, **debug)
        return losses

    # ------------------------------------------------------------------ the steps
    @torch.no_grad()
    def update_teacher(self) -> None:
        """One EMA step of the teacher towards the student (step 0: copy)."""
        self.teacher.update_parameters(self.student)

    @torch.no_grad()
    def pseudo_label(self, target: Tensor, target_samples: SampleList
                     ) -> Tuple[Tensor, Tensor, Dict[str, Tensor]]:
        """Teacher pseudo-labels of the target crops, their weights and log statistics.

        Returns:
            tuple: (B, H, W) labels, (B, H, W) weights (0 on padding and border margins),
            and ``pseudo.*`` statistics.
        """
        logits = self.teacher.module.inference_logits(target)
        label, confidence = UF.pseudo_labels(logits, self.pseudo_logit_adjustment)
        metas = [s.metainfo for s in target_samples]
        valid = UF.valid_region_mask(metas, label.shape, label.device) & \
            UF.border_mask(label.shape, self.crop_border_margin, label.device)
        weight = UF.confidence_weight(confidence, self.pseudo_threshold, self.pseudo_weight,
                                      valid, label, self.pseudo_keep_ratio)
        if self.pseudo_class_weight is not None:
            weight = UF.scale_by_class(weight, label, self.pseudo_class_weight)
        stats = {f"pseudo.{k}": v for k, v in UF.pseudo_label_stats(
            label, weight, confidence, valid, self.background_index,
            num_classes=logits.shape[1]).items()}
        if all("gt_sem_seg" in s for s in target_samples):
            hidden = stack_seg_labels(target_samples).to(label.device)
            hidden = torch.where(valid, hidden, torch.full_like(hidden, self.ignore_index))
            stats["pseudo.hidden_defect_iou"] = UF.defect_iou(
                label, hidden, self.ignore_index, self.background_index)
        return label, weight, stats

    @torch.no_grad()
    def class_mix(self, source: Tensor, source_label: Tensor, target: Tensor,
                  pseudo_label: Tensor, pseudo_weight: Tensor,
                  target_real: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """ClassMix of source onto target, then colour jitter and blur of the result.

        With ``target_real`` (the (B, H, W) real pixels of padded target crops) source pixels
        are pasted only inside the target's frame: the mixed image is the target image with
        source objects on it, and its real region (for HRDA's detail box and the loss mean)
        stays the target's.

        Returns:
            tuple: (B, H, W) bool paste mask, (B, 3, H, W) mixed images (normalised),
            (B, H, W) mixed labels and (B, H, W) mixed weights.
        """
        mask, _ = UF.class_mix_masks(source_label, self.ignore_index,
                                     exclude=self.mix_exclude_classes)
        if target_real is not None:
            mask = mask & target_real
        mixed_img = UF.mix(mask, source, target)
        mixed_label = UF.mix(mask, source_label, pseudo_label)
        mixed_weight = UF.mix(mask, torch.ones_like(pseudo_weight), pseudo_weight)
        return mask, self.photometric(mixed_img), mixed_label, mixed_weight

    @torch.no_grad()
    def photometric(self, img: Tensor) -> Tensor:
        """Colour jitter then Gaussian blur of normalised images (the mixed / MIC batch).

        Per image with torchvision jitter semantics by default; with ``reference_exact``
        the reference's: kornia 0.5.8 semantics, one apply/skip decision per batch.
        """
        mean, std = self._norm_stats(img)
        rgb = UF.denormalize(img, mean, std)
        if self.reference_exact:
            rgb = UF.color_jitter_reference(rgb, self.color_jitter_strength,
                                            self.color_jitter_prob)
        else:
            rgb = UF.color_jitter(rgb, self.color_jitter_strength, self.color_jitter_prob)
        rgb = UF.random_gaussian_blur(rgb, self.blur_prob, self.blur_sigma,
                                      per_batch=self.reference_exact)
        return UF.normalize(rgb, mean, std)

    @torch.no_grad()
    def mask_target(self, target: Tensor) -> Tuple[Tensor, Tensor]:
        """MIC input: the (colour-augmented) target crops with random blocks masked out.

        Returns:
            tuple: (B, 3, H, W) masked images (normalised; masked pixels 0) and the
            (B, 1, H, W) keep mask (1 = visible).
        """
        b, _, h, w = target.shape
        img = self.photometric(target) if self.mic["color_aug"] else target
        keep = block_mask(b, h, w, int(self.mic["block_size"]), float(self.mic["mask_ratio"]),
                          device=target.device).to(target.dtype)
        return img * keep, keep

    def training_progress(self) -> float:
        """Fraction of training done, in [0, 1], for the DANN schedule (see ``max_iters``)."""
        if self.max_iters is not None:
            return min(float(self.align_iter) / self.max_iters, 1.0)
        hub = MessageHub.get_current_instance()
        iteration, max_iters = hub.get_info("iter"), hub.get_info("max_iters")
        if iteration is None or not max_iters:
            raise ValueError("feature alignment needs the training progress: train with the "
                             "MMEngine Runner (it publishes iter/max_iters) or set "
                             "model.max_iters")
        return min(float(iteration) / float(max_iters), 1.0)

    def _feature_view(self, x: Tensor) -> Tensor:
        """The input the backbone features are taken from: HRDA's context view, else x."""
        student = self.student
        if hasattr(student, "_context_input") and hasattr(student, "divisor"):
            return student._context_input(pad_to_multiple(x, student.divisor))
        return x

    def feature_losses(self, source: Tensor, source_label: Tensor,
                       target: Tensor) -> Dict[str, Tensor]:
        """``align.*`` and ``fdist.*`` losses (empty when both methods are off).

        One backbone pass of the student over ``[source; target]`` (``[source]`` for the
        feature distance alone), on HRDA's context view for an HRDA student.
        """
        if self.alignment is None and self.imnet_feature_dist is None:
            return {}
        b = source.shape[0]
        x = source if self.alignment is None else torch.cat([source, target])
        view = self._feature_view(x)
        feats = self.student.backbone(view)
        losses: Dict[str, Tensor] = {}
        if self.alignment is not None:
            progress = self.training_progress() \
                if getattr(self.alignment, "uses_progress", True) else 0.0
            if self.max_iters is not None:
                self.align_iter += 1
            out = self.alignment([f[:b] for f in feats], [f[b:] for f in feats], progress)
            losses.update({f"align.{k}": torch.as_tensor(v).to(source.device)
                           for k, v in out.items()})
        if self.imnet_feature_dist is not None:
            losses.update(self.imnet_feature_distance(view[:b], [f[:b] for f in feats],
                                                      source_label))
        return losses

    def imnet_feature_distance(self, view: Tensor, student_feats: Sequence[Tensor],
                               source_label: Tensor) -> Dict[str, Tensor]:
        """``fdist.loss_imnet_feat_dist``: student vs frozen pretrained backbone features.

        Args:
            view (Tensor): the source input the student features were computed on.
            student_feats (Sequence[Tensor]): the student's backbone features of ``view``.
            source_label (Tensor): (B, H, W) source labels (for the class mask).
        """
        if not self._imnet_ready:
            raise RuntimeError("imnet_feature_dist: the frozen pretrained backbone is copied "
                               "in init_weights(); call model.init_weights() before training "
                               "(the Runner does)")
        opts = self.imnet_feature_dist
        frozen = self._imnet_backbone[0]
        if next(frozen.parameters()).device != view.device:
            frozen.to(view.device)
        with torch.no_grad():
            frozen_feats = frozen(view)
        idx = int(opts["in_index"])
        classes = opts["classes"]
        dist = masked_feature_distance(
            student_feats[idx], frozen_feats[idx].detach(), source_label,
            None if classes is None else tuple(int(c) for c in classes),
            ignore_index=self.ignore_index, min_ratio=float(opts["scale_min_ratio"]))
        return {"fdist.loss_imnet_feat_dist": float(opts["loss_weight"]) * dist}

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _real_pixels(samples: SampleList, ref: Tensor) -> Optional[Tensor]:
        """(B, H, W) bool mask of the real (unpadded) pixels; None when nothing is padded."""
        metas = [s.metainfo for s in samples]
        if not any(any(int(p) for p in m.get("padding_size", ())) for m in metas):
            return None
        return UF.valid_region_mask(metas, (ref.shape[0], *ref.shape[-2:]), ref.device)

    def _student_loss(self, imgs: Tensor, labels: Tensor, weights: Optional[Tensor],
                      groups: Dict[str, int], real: Sequence[Optional[Tensor]]
                      ) -> Dict[str, Tensor]:
        """The student's ``weighted_loss`` with the groups' real-pixel masks.

        ``valid`` is passed only when some image is padded and the segmentor takes it; a
        segmentor with the plain contract ``weighted_loss(inputs, seg_label, pixel_weight,
        groups)`` averages over all pixels (no real-region boxes either).
        """
        if not self._takes_valid or all(r is None for r in real):
            return self.student.weighted_loss(imgs, labels, weights, groups=groups)
        sizes = list(groups.values())
        masks = [torch.ones((n, *imgs.shape[-2:]), dtype=torch.bool, device=imgs.device)
                 if r is None else r for r, n in zip(real, sizes)]
        return self.student.weighted_loss(imgs, labels, weights, groups=groups,
                                          valid=torch.cat(masks))

    def _unpack(self, inputs, data_samples) -> Tuple[Tensor, Tensor, SampleList, SampleList]:
        if not (isinstance(inputs, dict) and isinstance(data_samples, dict)):
            raise TypeError(
                "DACS trains on paired batches: inputs={'source', 'target'} from a "
                "UDADataset through UDASegDataPreProcessor; got inputs of type "
                f"{type(inputs).__name__} (set train_dataloader.dataset.type='UDADataset')")
        source, target = inputs["source"], inputs["target"]
        if source.shape[0] != target.shape[0] or source.shape[-2:] != target.shape[-2:]:
            raise ValueError(f"source batch {tuple(source.shape)} and target batch "
                             f"{tuple(target.shape)} must have the same size (set the "
                             "preprocessor's size to the crop size)")
        return source, target, data_samples["source"], data_samples["target"]

    def _norm_stats(self, ref: Tensor) -> Tuple[Tensor, Tensor]:
        pre = self.data_preprocessor
        if getattr(pre, "_enable_normalize", False):
            return pre.mean.to(ref), pre.std.to(ref)
        return ref.new_zeros(3), ref.new_ones(3)

    def _keep_debug(self, **tensors: Tensor) -> None:
        """Keep detached references for the debug hook (images as RGB in [0, 1])."""
        out: Dict[str, Tensor] = {}
        mean = std = None
        for name, value in tensors.items():
            value = value.detach()
            if value.dim() == 4 and value.shape[1] == 3:
                if mean is None:
                    mean, std = self._norm_stats(value)
                value = UF.denormalize(value, mean, std)
            out[name] = value
        self.debug_outputs = out

