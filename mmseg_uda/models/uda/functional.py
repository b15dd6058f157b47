"""Pure tensor functions of the self-training loop (no state, no modules).

Each step of a DACS iteration that is not a network pass lives here so it can be tested on
constructed tensors:

* :func:`ema_alpha` — the teacher's EMA coefficient at a step (the reference formula);
* :func:`pseudo_labels`, :func:`confidence_weight`, :func:`border_mask`,
  :func:`valid_region_mask` — pseudo-labels and their per-pixel loss weights;
* :func:`class_mix_masks`, :func:`mix` — DACS ClassMix, chosen per sample;
* :func:`denormalize`, :func:`normalize`, :func:`color_jitter`, :func:`gaussian_blur`,
  :func:`random_gaussian_blur` — photometric augmentation of the mixed batch (torchvision
  semantics, decided per image); :func:`color_jitter_reference` and
  ``random_gaussian_blur(per_batch=True)`` — the reference's (kornia 0.5.8 semantics,
  decided once per batch).

Random functions take an optional ``torch.Generator``; without one they draw from torch's
global generator, which MMEngine seeds (``randomness=dict(seed=...)``).

Conventions: images are (N, 3, H, W) float tensors, label maps (N, H, W) long tensors with
``ignore_index`` (255) for unlabeled pixels, weight maps (N, H, W) float tensors.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

WEIGHT_MODES = ("batch", "image", "pixel", "soft", "class_balanced")


# --------------------------------------------------------------------------- EMA teacher
def ema_alpha(step: int, alpha: float) -> float:
    """EMA coefficient of the teacher at iteration ``step``: ``min(1 - 1/(step + 1), alpha)``.

    Step 0 gives 0 (the teacher copies the student); the coefficient then grows as
    1/2, 2/3, ... until it reaches ``alpha``. The teacher update is
    ``theta_T <- a * theta_T + (1 - a) * theta_S``.

    Args:
        step (int): the teacher's update counter (0 at the first training iteration).
        alpha (float): the EMA coefficient cap, in (0, 1). The reference uses 0.999.

    Returns:
        float: the coefficient ``a`` of the teacher's current weights.
    """
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    return min(1.0 - 1.0 / (step + 1), float(alpha))


# --------------------------------------------------------------------------- pseudo-labels
def pseudo_labels(logits: Tensor, logit_adjustment: Optional[Sequence[float]] = None
                  ) -> Tuple[Tensor, Tensor]:
    """Hard pseudo-labels and their confidence from teacher logits.

    Args:
        logits (Tensor): (N, C, H, W) logits of any float dtype; the softmax is computed in
            float32 (bf16/fp16 logits would round probabilities near 1, where the threshold
            of :func:`confidence_weight` sits).
        logit_adjustment (Sequence[float], optional): one value per class added to the
            logits before the softmax. A network trained with class weights ``w`` in its
            cross-entropy learns probabilities proportional to ``w_c * p_c``; adding
            ``-log(w_c)`` recovers the unweighted posterior, so the arg-max decides at
            ``p = 1/2`` instead of at ``w_bg / (w_bg + w_c)``. Default: None.

    Returns:
        tuple[Tensor, Tensor]: ``(label, confidence)``: (N, H, W) long arg-max class and
        (N, H, W) float32 maximum softmax probability.
    """
    if logits.dim() != 4:
        raise ValueError(f"logits must be (N, C, H, W), got shape {tuple(logits.shape)}")
    logits = logits.detach().float()
    if logit_adjustment is not None:
        if len(logit_adjustment) != logits.shape[1]:
            raise ValueError(f"logit_adjustment has {len(logit_adjustment)} values for "
                             f"{logits.shape[1]} classes")
        logits = logits + logits.new_tensor(list(logit_adjustment)).view(1, -1, 1, 1)
    prob = torch.softmax(logits, dim=1)
    confidence, label = prob.max(dim=1)
    return label, confidence


def class_quantile_thresholds(label: Tensor, confidence: Tensor, keep_ratio: float,
                              valid: Optional[Tensor] = None,
                              num_classes: Optional[int] = None) -> Tensor:
    """Per-class confidence thresholds that keep the top ``keep_ratio`` of each class.

    For each class ``c``, the threshold is the confidence above which the ``keep_ratio``
    most confident (valid) pixels pseudo-labeled ``c`` lie (class-balanced self-training,
    CBST). A class without pixels gets threshold 1 (nothing to keep).

    Args:
        label (Tensor): (N, H, W) pseudo-labels.
        confidence (Tensor): (N, H, W) their maximum softmax probability.
        keep_ratio (float): fraction of each class's pixels to keep, in (0, 1].
        valid (Tensor, optional): (N, H, W) bool mask of pixels that count. Default: all.
        num_classes (int, optional): number of classes. Default: ``label.max() + 1``.

    Returns:
        Tensor: (num_classes,) float32 thresholds.
    """
    if not 0.0 < keep_ratio <= 1.0:
        raise ValueError(f"keep_ratio must be in (0, 1], got {keep_ratio}")
    if valid is None:
        valid = torch.ones_like(label, dtype=torch.bool)
    num_classes = int(label.max()) + 1 if num_classes is None else num_classes
    out = torch.ones(num_classes, dtype=torch.float32, device=confidence.device)
    for c in range(num_classes):
        values = confidence[(label == c) & valid].float()
        if values.numel():
            k = max(1, int(math.ceil(keep_ratio * values.numel())))
            out[c] = torch.topk(values, k).values[-1]
    return out


def confidence_weight(confidence: Tensor, threshold: float = 0.968, mode: str = "batch",
                      valid: Optional[Tensor] = None, label: Optional[Tensor] = None,
                      keep_ratio: float = 0.5) -> Tensor:
    """Per-pixel loss weight of pseudo-labels from their confidence.

    Args:
        confidence (Tensor): (N, H, W) maximum softmax probability of each pixel.
        threshold (float): confidence threshold ``tau`` in [0, 1]. Default: 0.968 (reference).
        mode (str): how the weight is formed. Default: ``'batch'``.

            - ``'batch'``: the reference DACS weight, one scalar for the whole batch: the
              fraction of (valid) pixels whose confidence is >= ``threshold``;
            - ``'image'``: the same fraction, computed per image;
            - ``'pixel'``: 1 where the pixel's confidence is >= ``threshold``, else 0;
            - ``'soft'``: the confidence itself (``threshold`` unused);
            - ``'class_balanced'``: 1 where the pixel's confidence is >= ``threshold`` *or*
              among the ``keep_ratio`` most confident pixels of its pseudo-class in the batch
              (:func:`class_quantile_thresholds`), else 0 — a class whose pixels never reach
              ``tau`` (thin defects) keeps its most confident part instead of nothing.
        valid (Tensor, optional): (N, H, W) bool mask of pixels that exist (not padding, not
            in a border margin). Invalid pixels get weight 0 and do not count in the
            fractions. Default: None (all valid).
        label (Tensor, optional): (N, H, W) pseudo-labels; required by ``'class_balanced'``.
        keep_ratio (float): fraction kept per class by ``'class_balanced'``. Default: 0.5.

    Returns:
        Tensor: (N, H, W) float32 weights in [0, 1].
    """
    if mode not in WEIGHT_MODES:
        raise ValueError(f"confidence weight mode must be one of {WEIGHT_MODES}, got {mode!r}")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    confidence = confidence.float()
    if valid is None:
        valid = torch.ones_like(confidence, dtype=torch.bool)
    valid_f = valid.float()
    confident = (confidence >= threshold).float() * valid_f
    if mode == "class_balanced":
        if label is None:
            raise ValueError("confidence weight mode 'class_balanced' needs the pseudo-labels")
        per_class = class_quantile_thresholds(label, confidence, keep_ratio, valid)
        per_class = per_class.clamp(max=threshold)
        return (confidence >= per_class[label]).float() * valid_f
    if mode == "batch":
        weight = confident.sum() / valid_f.sum().clamp(min=1.0) * torch.ones_like(confidence)
    elif mode == "image":
        frac = confident.flatten(1).sum(1) / valid_f.flatten(1).sum(1).clamp(min=1.0)
        weight = frac.view(-1, 1, 1).expand_as(confidence).clone()
    elif mode == "pixel":
        weight = confident
    else:
        weight = confidence.clone()
    return weight * valid_f


def scale_by_class(weight: Tensor, label: Tensor, factors: Sequence[float]) -> Tensor:
    """Multiply each pixel's weight by the factor of its (pseudo-)class.

    Args:
        weight (Tensor): (N, H, W) weights.
        label (Tensor): (N, H, W) class ids (all < ``len(factors)``).
        factors (Sequence[float]): one multiplier per class.

    Returns:
        Tensor: (N, H, W) scaled weights.
    """
    table = torch.as_tensor(factors, dtype=weight.dtype, device=weight.device)
    if int(label.max()) >= table.numel():
        raise ValueError(f"{table.numel()} class factors for labels up to {int(label.max())}")
    return weight * table[label]


def border_mask(shape: Sequence[int], margin: Union[int, Sequence[int]],
                device: Optional[torch.device] = None) -> Tensor:
    """Bool mask that is False within ``margin`` pixels of the image borders.

    Args:
        shape (Sequence[int]): ``(N, H, W)`` of the mask.
        margin (int | Sequence[int]): margin in pixels, one value for every side or
            ``(top, bottom, left, right)``. 0 keeps every pixel.
        device (torch.device, optional): device of the mask. Default: None (CPU).

    Returns:
        Tensor: (N, H, W) bool mask, True where pseudo-labels are kept.
    """
    n, h, w = shape
    if isinstance(margin, int):
        margin = (margin,) * 4
    if len(margin) != 4 or any(int(m) < 0 for m in margin):
        raise ValueError(f"margin must be an int >= 0 or (top, bottom, left, right), got "
                         f"{margin}")
    top, bottom, left, right = (int(m) for m in margin)
    mask = torch.zeros((n, h, w), dtype=torch.bool, device=device)
    mask[:, top:max(top, h - bottom), left:max(left, w - right)] = True
    return mask


def valid_region_mask(batch_img_metas: Sequence[dict], shape: Sequence[int],
                      device: Optional[torch.device] = None) -> Tensor:
    """Bool mask of the real image pixels of a padded batch.

    ``SegDataPreProcessor`` pads each image at its right and bottom up to the batch size and
    records ``padding_size = (left, right, top, bottom)`` in the image meta. Pseudo-labels on
    padding are meaningless and must not be trained on.

    Args:
        batch_img_metas (Sequence[dict]): one meta dict per image (``padding_size`` optional,
            absent = no padding).
        shape (Sequence[int]): ``(N, H, W)`` of the padded batch.
        device (torch.device, optional): device of the mask. Default: None (CPU).

    Returns:
        Tensor: (N, H, W) bool mask, True on image pixels.
    """
    n, h, w = shape
    if len(batch_img_metas) != n:
        raise ValueError(f"{len(batch_img_metas)} image metas for a batch of {n}")
    mask = torch.zeros((n, h, w), dtype=torch.bool, device=device)
    for i, meta in enumerate(batch_img_metas):
        left, right, top, bottom = (int(p) for p in meta.get("padding_size", (0, 0, 0, 0)))
        mask[i, top:h - bottom, left:w - right] = True
    return mask


def pseudo_label_stats(label: Tensor, weight: Tensor, confidence: Tensor,
                       valid: Optional[Tensor] = None,
                       background_index: int = 0,
                       num_classes: Optional[int] = None) -> Dict[str, Tensor]:
    """Summary numbers of a batch of pseudo-labels, for the training log.

    Args:
        label (Tensor): (N, H, W) pseudo-labels.
        weight (Tensor): (N, H, W) their loss weights.
        confidence (Tensor): (N, H, W) their maximum softmax probability.
        valid (Tensor, optional): (N, H, W) bool mask of real pixels. Default: None (all).
        background_index (int): the class that is not a defect. Default: 0.
        num_classes (int, optional): the number of classes; with more than two, the share
            of each defect class is added (which classes does the teacher still name?).
            Default: None (no per-class numbers).

    Returns:
        dict[str, Tensor]: scalar tensors (no host synchronisation): ``weight`` (mean loss
        weight), ``confidence`` (mean maximum probability), ``defect_fraction`` (fraction of
        pixels pseudo-labeled as a defect class), ``defect_weight`` (mean weight of those
        pixels, 0 if there are none); with ``num_classes > 2`` also ``class{k}_fraction``
        (fraction of pixels pseudo-labeled ``k``) and ``class{k}_weight`` (their share of
        the batch's total pseudo-label weight) for every defect class ``k``.
    """
    if valid is None:
        valid = torch.ones_like(label, dtype=torch.bool)
    v = valid.float()
    n = v.sum().clamp(min=1.0)
    defect = (label != background_index).float() * v
    w = weight.float() * v
    out = dict(
        weight=w.sum() / n,
        confidence=(confidence.float() * v).sum() / n,
        defect_fraction=defect.sum() / n,
        defect_weight=(w * defect).sum() / defect.sum().clamp(min=1.0),
    )
    if num_classes is not None and num_classes > 2:
        # scatter_add, not bincount or boolean indexing: no host synchronisation
        flat = label.reshape(-1).long()
        counts = v.new_zeros(num_classes).scatter_add_(0, flat, v.reshape(-1))
        weights = v.new_zeros(num_classes).scatter_add_(0, flat, w.reshape(-1))
        total_weight = weights.sum().clamp(min=1e-12)
        for k in range(num_classes):
            if k != background_index:
                out[f"class{k}_fraction"] = counts[k] / n
                out[f"class{k}_weight"] = weights[k] / total_weight
    return out


def defect_iou(pred: Tensor, label: Tensor, ignore_index: int = 255,
               background_index: int = 0) -> Tensor:
    """IoU of the union of defect classes between a prediction and a label map.

    Used only for diagnosis (pseudo-label quality against target labels that the training
    never sees). Returns 1 when neither map has a defect pixel.

    Args:
        pred (Tensor): (N, H, W) predicted class ids.
        label (Tensor): (N, H, W) true class ids; ``ignore_index`` pixels are skipped.
        ignore_index (int): label value that is skipped. Default: 255.
        background_index (int): the class that is not a defect. Default: 0.

    Returns:
        Tensor: scalar float IoU in [0, 1].
    """
    valid = label != ignore_index
    p = (pred != background_index) & valid
    t = (label != background_index) & valid
    union = (p | t).sum().float()
    inter = (p & t).sum().float()
    return torch.where(union > 0, inter / union.clamp(min=1.0), torch.ones_like(union))


# --------------------------------------------------------------------------- ClassMix
def class_mix_masks(labels: Tensor, ignore_index: int = 255,
                    generator: Optional[torch.Generator] = None,
                    exclude: Sequence[int] = ()) -> Tuple[Tensor, List[Tensor]]:
    """DACS ClassMix masks, chosen per sample from the classes present in *that* label map.

    For each sample, ``ceil(n / 2)`` of its ``n`` present classes are drawn without
    replacement; the mask is True on the pixels of the drawn classes. ``ignore_index`` is
    never a candidate, so padding and unlabeled pixels are never pasted.

    Args:
        labels (Tensor): (N, H, W) source label maps.
        ignore_index (int): label value that is never drawn. Default: 255.
        generator (torch.Generator, optional): random source. Default: None (global).
        exclude (Sequence[int]): further class ids that are never drawn (e.g. ``(0,)`` to
            paste only defects). Default: ().

    Returns:
        tuple[Tensor, list[Tensor]]: ``(masks, chosen)``: (N, H, W) bool masks and, per
        sample, the 1-D tensor of drawn class ids (empty if the sample has no candidate).
    """
    if labels.dim() != 3:
        raise ValueError(f"labels must be (N, H, W), got shape {tuple(labels.shape)}")
    masks, chosen = [], []
    banned = torch.tensor([ignore_index, *exclude], device=labels.device)
    for label in labels:
        classes = torch.unique(label)
        classes = classes[~torch.isin(classes, banned)]
        num = (classes.numel() + 1) // 2
        perm = torch.randperm(classes.numel(), generator=generator)
        pick = classes[perm[:num].to(classes.device)]
        chosen.append(pick)
        masks.append(torch.isin(label, pick))
    return torch.stack(masks), chosen


def mix(mask: Tensor, foreground: Tensor, background: Tensor) -> Tensor:
    """``foreground`` where ``mask`` is True, ``background`` elsewhere (a new tensor).

    Args:
        mask (Tensor): (N, H, W) bool mask; broadcast over a channel dimension for
            (N, C, H, W) inputs.
        foreground (Tensor): values taken where the mask is True (e.g. the source image).
        background (Tensor): values taken elsewhere (e.g. the target image); same shape.

    Returns:
        Tensor: the mixed tensor, dtype of ``foreground``.
    """
    if foreground.shape != background.shape:
        raise ValueError(f"cannot mix shapes {tuple(foreground.shape)} and "
                         f"{tuple(background.shape)}")
    m = mask[:, None] if foreground.dim() == 4 else mask
    return torch.where(m, foreground, background.to(foreground.dtype))


# --------------------------------------------------------------------------- photometric
def denormalize(img: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """Normalised (N, 3, H, W) images back to RGB in [0, 1] (``mean``/``std`` on 0..255)."""
    return ((img * std.view(1, -1, 1, 1) + mean.view(1, -1, 1, 1)) / 255.0).clamp(0.0, 1.0)


def normalize(img: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """RGB [0, 1] (N, 3, H, W) images to the network's normalisation (inverse of above)."""
    return (img * 255.0 - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)


def _grey(img: Tensor) -> Tensor:
    r, g, b = img[:, 0:1], img[:, 1:2], img[:, 2:3]
    return 0.299 * r + 0.587 * g + 0.114 * b


def _rgb_to_hsv(img: Tensor) -> Tensor:
    r, g, b = img.unbind(1)
    maxc, _ = img.max(1)
    minc, _ = img.min(1)
    delta = maxc - minc
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    h = torch.where(maxc == r, ((g - b) / safe) % 6.0,
                    torch.where(maxc == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0))
    h = torch.where(delta > 0, h / 6.0, torch.zeros_like(h))
    s = torch.where(maxc > 0, delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc)),
                    torch.zeros_like(maxc))
    return torch.stack([h, s, maxc], 1)


def _hsv_to_rgb(hsv: Tensor) -> Tensor:
    h, s, v = hsv.unbind(1)
    k = torch.stack([(5.0 + h * 6.0) % 6.0, (3.0 + h * 6.0) % 6.0, (1.0 + h * 6.0) % 6.0], 1)
    f = v[:, None] - v[:, None] * s[:, None] * torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0)
    return f  # channels: r, g, b


def adjust_color(img: Tensor, brightness: Tensor, contrast: Tensor, saturation: Tensor,
                 hue: Tensor) -> Tensor:
    """Deterministic colour change of RGB [0, 1] images with per-image factors.

    Args:
        img (Tensor): (N, 3, H, W) RGB images in [0, 1].
        brightness (Tensor): (N,) multiplicative factors (1 = unchanged).
        contrast (Tensor): (N,) factors blending with the image's mean grey (1 = unchanged).
        saturation (Tensor): (N,) factors blending with the grey image (1 = unchanged).
        hue (Tensor): (N,) hue shifts as a fraction of the colour circle (0 = unchanged).

    Returns:
        Tensor: (N, 3, H, W) images in [0, 1].
    """
    view = (-1, 1, 1, 1)
    out = (img * brightness.view(view)).clamp(0, 1)
    mean = _grey(out).mean(dim=(1, 2, 3), keepdim=True)
    out = (mean + contrast.view(view) * (out - mean)).clamp(0, 1)
    grey = _grey(out)
    out = (grey + saturation.view(view) * (out - grey)).clamp(0, 1)
    if bool((hue != 0).any()):
        hsv = _rgb_to_hsv(out)
        hsv = torch.cat([(hsv[:, :1] + hue.view(view)) % 1.0, hsv[:, 1:]], 1)
        out = _hsv_to_rgb(hsv).clamp(0, 1)
    return out


def color_jitter(img: Tensor, strength: float = 0.2, prob: float = 0.8,
                 generator: Optional[torch.Generator] = None) -> Tensor:
    """Random colour jitter of RGB [0, 1] images, drawn independently per image.

    Each image is changed with probability ``prob``; brightness, contrast and saturation
    factors are drawn from ``[1 - strength, 1 + strength]`` and a hue shift from
    ``[-strength, strength]`` (fraction of the colour circle); images not chosen are
    returned unchanged. torchvision semantics (:func:`adjust_color`: multiplicative
    brightness, contrast blended with the mean grey, fixed order); the reference's jitter
    (kornia 0.5.8, one decision per batch) is :func:`color_jitter_reference`.

    Args:
        img (Tensor): (N, 3, H, W) RGB images in [0, 1].
        strength (float): jitter strength. Default: 0.2 (reference DACS).
        prob (float): probability that an image is jittered. Default: 0.8 (reference DACS).
        generator (torch.Generator, optional): random source. Default: None (global).

    Returns:
        Tensor: (N, 3, H, W) jittered images in [0, 1].
    """
    n = img.shape[0]

    def draw(low, high):
        return (low + (high - low) * torch.rand(n, generator=generator)).to(img.device)

    apply = (torch.rand(n, generator=generator) < prob).to(img.device)
    factors = [draw(1 - strength, 1 + strength) for _ in range(3)] + \
        [draw(-strength, strength)]
    if not bool(apply.any()):
        return img
    out = adjust_color(img, *factors)
    return torch.where(apply.view(-1, 1, 1, 1), out, img)


def adjust_color_kornia(img: Tensor, brightness: Tensor, contrast: Tensor, saturation: Tensor,
                        hue: Tensor, order: Sequence[int] = (0, 1, 2, 3)) -> Tensor:
    """Deterministic colour change with the semantics of kornia 0.5.8's ``ColorJitter``.

    The reference DACS/HRDA/MIC code jitters with kornia 0.5.8, whose operations differ from
    torchvision's (:func:`adjust_color`): brightness is *added* (``x + (b - 1)``), contrast is
    a plain multiplication (``x * c``, no blend with the mean grey), saturation scales the HSV
    saturation and hue shifts the HSV hue; each result is clipped to [0, 1], and the four
    operations run in ``order`` (0 brightness, 1 contrast, 2 saturation, 3 hue).

    Args:
        img (Tensor): (N, 3, H, W) RGB images in [0, 1].
        brightness (Tensor): (N,) factors around 1 (1 = unchanged; ``b - 1`` is added).
        contrast (Tensor): (N,) multiplicative factors (1 = unchanged).
        saturation (Tensor): (N,) factors of the HSV saturation (1 = unchanged).
        hue (Tensor): (N,) hue shifts as a fraction of the colour circle (0 = unchanged).
        order (Sequence[int]): order of the four operations. Default: (0, 1, 2, 3).

    Returns:
        Tensor: (N, 3, H, W) images in [0, 1].
    """
    view = (-1, 1, 1, 1)
    if sorted(int(i) for i in order) != [0, 1, 2, 3]:
        raise ValueError(f"order must be a permutation of (0, 1, 2, 3), got {tuple(order)}")
    out = img
    for op in order:
        if int(op) == 0:
            out = (out + (brightness.view(view) - 1.0)).clamp(0, 1)
        elif int(op) == 1:
            out = (out * contrast.view(view)).clamp(0, 1)
        else:
            hsv = _rgb_to_hsv(out)
            h, s, v = hsv[:, :1], hsv[:, 1:2], hsv[:, 2:]
            if int(op) == 2:
                s = (s * saturation.view(view)).clamp(0, 1)
            else:
                h = (h + hue.view(view)) % 1.0
            out = _hsv_to_rgb(torch.cat([h, s, v], 1)).clamp(0, 1)
    return out


def color_jitter_reference(img: Tensor, strength: float = 0.2, prob: float = 0.8,
                           generator: Optional[torch.Generator] = None) -> Tensor:
    """The reference's colour jitter: one apply/skip decision per batch, kornia 0.5.8 semantics.

    With probability ``prob`` the whole batch is jittered (else returned unchanged); each
    image then gets its own factors (brightness, contrast, saturation in
    ``[1 - strength, 1 + strength]``, hue in ``[-strength, strength]``) and the batch one
    random order of the four operations (:func:`adjust_color_kornia`).

    Args:
        img (Tensor): (N, 3, H, W) RGB images in [0, 1].
        strength (float): jitter strength. Default: 0.2.
        prob (float): probability that the batch is jittered. Default: 0.8.
        generator (torch.Generator, optional): random source. Default: None (global).

    Returns:
        Tensor: (N, 3, H, W) images in [0, 1].
    """
    n = img.shape[0]
    if float(torch.rand(1, generator=generator)) >= prob:
        return img

    def draw(low, high):
        return (low + (high - low) * torch.rand(n, generator=generator)).to(img.device)

    factors = [draw(1 - strength, 1 + strength) for _ in range(3)] + \
        [draw(-strength, strength)]
    order = torch.randperm(4, generator=generator).tolist()
    return adjust_color_kornia(img, *factors, order=order)


def gaussian_kernel1d(sigma: float, device: Optional[torch.device] = None) -> Tensor:
    """Normalised 1-D Gaussian of standard deviation ``sigma`` (pixels), radius ceil(3 sigma)."""
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    radius = max(1, int(math.ceil(3.0 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32, device=device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(img: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of (N, C, H, W) images (reflect padding).

    Args:
        img (Tensor): images (any value range).
        sigma (float): standard deviation in pixels (> 0).

    Returns:
        Tensor: blurred images, same shape and dtype.
    """
    k = gaussian_kernel1d(sigma, img.device).to(img.dtype)
    c, r = img.shape[1], k.numel() // 2
    mode = "reflect" if min(img.shape[-2:]) > r else "replicate"
    out = F.pad(img, (r, r, 0, 0), mode=mode)
    out = F.conv2d(out, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    out = F.pad(out, (0, 0, r, r), mode=mode)
    return F.conv2d(out, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def random_gaussian_blur(img: Tensor, prob: float = 0.5,
                         sigma_range: Tuple[float, float] = (0.15, 1.15),
                         generator: Optional[torch.Generator] = None,
                         per_batch: bool = False) -> Tensor:
    """Gaussian blur of each image with probability ``prob`` and a random sigma.

    With ``per_batch`` (the reference) one decision and one sigma hold for the whole batch.

    Args:
        img (Tensor): (N, C, H, W) images.
        prob (float): probability that an image is blurred. Default: 0.5 (reference DACS).
        sigma_range (tuple[float, float]): sigma in pixels, drawn uniformly.
            Default: (0.15, 1.15) (reference DACS).
        generator (torch.Generator, optional): random source. Default: None (global).

        per_batch (bool): draw one apply/skip decision and one sigma for the batch.
            Default: False (per image).

    Returns:
        Tensor: (N, C, H, W) images, blurred where drawn.
    """
    if per_batch:
        apply = float(torch.rand(1, generator=generator)) < prob
        sigma = sigma_range[0] + (sigma_range[1] - sigma_range[0]) * float(
            torch.rand(1, generator=generator))
        return gaussian_blur(img, sigma) if apply else img
    n = img.shape[0]
    apply = torch.rand(n, generator=generator) < prob
    sigmas = sigma_range[0] + (sigma_range[1] - sigma_range[0]) * torch.rand(
        n, generator=generator)
    out = [gaussian_blur(img[i:i + 1], float(sigmas[i])) if apply[i] else img[i:i + 1]
           for i in range(n)]
    return torch.cat(out, 0)
