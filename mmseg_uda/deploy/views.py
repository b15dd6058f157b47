"""Test-time augmentation and tiling around an exported model, in numpy (no torch).

The rules of the PyTorch side (``tools/predict.py``, :func:`mmseg_uda.apis.predict_logits`),
for :class:`~mmseg_uda.deploy.runtime.OnnxSegmentor`:

* **TTA** (:func:`average_views`): every flip at every scale of the normalised input is
  predicted, flipped back and resized to the input size, and the class **probabilities are
  averaged** (attention maps too). Resizing is bilinear with PyTorch's ``F.interpolate(...,
  align_corners=False)`` arithmetic (:func:`resize_bilinear`): a view is ``floor(s * side)``
  pixels with source positions ``(i + 0.5) / s - 0.5``, as ``scale_factor=s``. The graph
  returns probabilities, not logits: a view's probabilities are resized back as logs and
  normalised again (a softmax), which gives exactly the softmax of the resized logits, since
  ``log p`` differs from the logits by one value per pixel and bilinear weights are the same
  for every class.
* **Tiling** (:func:`tile_average`): windows laid out as MMSeg's slide inference
  (:func:`tile_boxes`), each predicted on its own (with TTA when asked), and overlaps averaged
  in log-probabilities, which equals averaging the logits as the PyTorch tiling and MMSeg's
  slide mode do (the same argument, per window).

numpy only.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

FLIPS = ("none", "horizontal", "vertical")
DEFAULT_FLIPS = ("none", "horizontal")
# flip name -> numpy axes of a (..., H, W) array
FLIP_AXES = {"none": (), "horizontal": (-1,), "vertical": (-2,)}

Box = Tuple[int, int, int, int]
# normalised (1, 3, h, w) input -> dict(probs=(C, h, w), attention=(h, w) or None)
Predictor = Callable[[np.ndarray], Dict[str, Optional[np.ndarray]]]


def tta_settings(scales: Optional[Sequence[float]] = None,
                 flips: Sequence[str] = DEFAULT_FLIPS) -> Dict[str, tuple]:
    """Checked TTA settings ``dict(flips=..., scales=...)``.

    Args:
        scales (Sequence[float], optional): resize factors of the input; every flip is applied
            at every scale. Default: None (``(1.0,)``).
        flips (Sequence[str]): among ``'none'``, ``'horizontal'``, ``'vertical'``.
            Default: ``('none', 'horizontal')``.

    Raises:
        ValueError: a scale <= 0 or an unknown flip (named in the message).
    """
    scales = tuple(float(s) for s in (scales or (1.0,)))
    bad = [s for s in scales if not s > 0]
    if bad:
        raise ValueError(f"TTA scales must be > 0, got {bad}")
    unknown = [f for f in flips if f not in FLIPS]
    if unknown or not flips:
        raise ValueError(f"TTA flips must be among {FLIPS}, got {tuple(flips)}")
    return dict(flips=tuple(flips), scales=scales)


def _axis_weights(size_in: int, size_out: int, scale: Optional[float]):
    """Source indices and weights of bilinear resizing along one axis (PyTorch's rule)."""
    ratio = 1.0 / scale if scale else size_in / size_out
    src = np.maximum((np.arange(size_out, dtype=np.float32) + 0.5) * np.float32(ratio) - 0.5, 0)
    i0 = np.minimum(src.astype(np.int64), size_in - 1)
    i1 = np.minimum(i0 + 1, size_in - 1)
    w1 = (src - i0).astype(np.float32)
    return i0, i1, (1 - w1).astype(np.float32), w1


def resize_bilinear(x: np.ndarray, size: Optional[Sequence[int]] = None,
                    scale: Optional[float] = None) -> np.ndarray:
    """Resize the last two axes of ``x`` as ``F.interpolate(x, mode='bilinear',
    align_corners=False)`` does, given an output ``size`` (H, W) or a ``scale`` factor.

    Args:
        x (np.ndarray): (..., H, W) float32.
        size (Sequence[int], optional): output (H, W).
        scale (float, optional): factor; output ``floor(H * scale), floor(W * scale)``.

    Returns:
        np.ndarray: (..., H', W') float32.
    """
    if (size is None) == (scale is None):
        raise ValueError("give either size or scale")
    h, w = x.shape[-2:]
    out_h, out_w = (int(h * scale), int(w * scale)) if scale else (int(size[0]), int(size[1]))
    if (out_h, out_w) == (h, w) and scale in (None, 1.0):
        return x
    x = x.astype(np.float32, copy=False)
    c0, c1, u0, u1 = _axis_weights(w, out_w, scale)
    x = x[..., c0] * u0 + x[..., c1] * u1
    r0, r1, v0, v1 = _axis_weights(h, out_h, scale)
    return x[..., r0, :] * v0[:, None] + x[..., r1, :] * v1[:, None]


def softmax(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Numerically stable softmax along ``axis`` (float32)."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(np.float32)


def log_probs(probs: np.ndarray) -> np.ndarray:
    """``log(probs)``, zeros clipped to the smallest normal float32 (no -inf)."""
    return np.log(np.maximum(probs, np.finfo(np.float32).tiny))


def _flip(x: np.ndarray, flip: str) -> np.ndarray:
    axes = FLIP_AXES[flip]
    return np.ascontiguousarray(np.flip(x, axes)) if axes else x


def average_views(predict: Predictor, x: np.ndarray, flips: Sequence[str] = DEFAULT_FLIPS,
                  scales: Sequence[float] = (1.0,)) -> Dict[str, Optional[np.ndarray]]:
    """Mean probabilities (and attention) of the flipped / rescaled views of one input.

    Args:
        predict (Callable): normalised (1, 3, h, w) -> ``dict(probs=(C, h, w),
            attention=(h, w) or None)``.
        x (np.ndarray): (1, 3, H, W) normalised input.
        flips (Sequence[str]): flips of every scale. Default: ``('none', 'horizontal')``.
        scales (Sequence[float]): resize factors. Default: ``(1.0,)``.

    Returns:
        dict: ``probs`` (C, H, W) and ``attention`` (H, W) or None.
    """
    settings = tta_settings(scales, flips)
    size = x.shape[-2:]
    prob_sum, att_sum, num = None, None, 0
    for scale in settings["scales"]:
        scaled = x if scale == 1.0 else resize_bilinear(x, scale=scale)
        for flip in settings["flips"]:
            out = predict(_flip(scaled, flip))
            probs, att = _flip(out["probs"], flip), out.get("attention")
            att = None if att is None else _flip(att, flip)
            if probs.shape[-2:] != size:
                probs = softmax(resize_bilinear(log_probs(probs), size=size))
                att = None if att is None else resize_bilinear(att, size=size)
            prob_sum = probs if prob_sum is None else prob_sum + probs
            if att is not None:
                att_sum = att if att_sum is None else att_sum + att
            num += 1
    return dict(probs=(prob_sum / num).astype(np.float32),
                attention=None if att_sum is None else (att_sum / num).astype(np.float32))


def window_starts(length: int, window: int, stride: int) -> List[int]:
    """Start offsets of windows of ``window`` pixels every ``stride`` pixels over ``length``;
    the last one ends at the border (one window at 0 when ``length <= window``)."""
    if window < 1 or not 1 <= stride <= window:
        raise ValueError(f"need 1 <= stride <= window, got window={window}, stride={stride}")
    num = max(length - window + stride - 1, 0) // stride + 1
    return [max(min(i * stride + window, length) - window, 0) for i in range(num)]


def tile_boxes(size: Sequence[int], window: Sequence[int],
               stride: Sequence[int]) -> List[Box]:
    """Boxes ``(y1, y2, x1, x2)`` covering an (H, W) image, row by row, in MMSeg's
    slide-inference layout (windows clipped to a smaller image)."""
    (height, width), (wh, ww), (sh, sw) = size, window, stride
    return [(y, min(y + wh, height), x, min(x + ww, width))
            for y in window_starts(height, wh, sh) for x in window_starts(width, ww, sw)]


def tile_average(predict: Predictor, x: np.ndarray, window: Sequence[int],
                 stride: Sequence[int]) -> Dict[str, Optional[np.ndarray]]:
    """Probabilities (and attention) of one input predicted window by window.

    Overlapping windows are averaged in log-probabilities (= averaging logits), attention maps
    linearly; the result is the softmax of the average.

    Args:
        predict (Callable): as for :func:`average_views` (it may itself be a TTA average).
        x (np.ndarray): (1, 3, H, W) normalised input.
        window (Sequence[int]): (h, w) of a window.
        stride (Sequence[int]): (sh, sw) step between windows.
    """
    size = x.shape[-2:]
    log_sum, att_sum = None, None
    count = np.zeros(size, np.float32)
    for y1, y2, x1, x2 in tile_boxes(size, window, stride):
        out = predict(np.ascontiguousarray(x[..., y1:y2, x1:x2]))
        if log_sum is None:
            log_sum = np.zeros((out["probs"].shape[0],) + tuple(size), np.float32)
        log_sum[:, y1:y2, x1:x2] += log_probs(out["probs"])
        if out.get("attention") is not None:
            if att_sum is None:
                att_sum = np.zeros(size, np.float32)
            att_sum[y1:y2, x1:x2] += out["attention"]
        count[y1:y2, x1:x2] += 1
    return dict(probs=softmax(log_sum / count),
                attention=None if att_sum is None else att_sum / count)
