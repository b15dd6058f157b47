"""Inspection pictures of ``tools/predict.py``, readable on real photos.

The drawing primitives (tint, boxes, heat map, panel) live in :mod:`mmseg_uda.deploy.visualize`
(torch-free, shared with the ONNX runner) and are re-exported here. On top of them:

* :func:`readable_overlay` — the tinted mask with a box and a label only for the regions large
  enough to read (at most ``max_labels``, the largest first), and one line per image with the
  verdict and the region count: a photo with a hundred 16-pixel specks no longer drowns in
  labels;
* :func:`with_colour_bar` — a heat map or attention map with its colour scale and a name;
* :func:`write_palette_png` — a mask whose pixel values are the class ids (as MMSeg's
  annotation loader and PIL read them) and which image viewers show in the class colours.
"""

from __future__ import annotations

import os
import os.path as osp
from typing import Optional, Sequence

import cv2
import numpy as np

from ..deploy.visualize import colorize, heatmap, overlay, panel

__all__ = ["colorize", "default_label_min_area", "heatmap", "overlay", "panel",
           "readable_overlay", "with_colour_bar", "write_palette_png"]

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_OK_COLOUR = (60, 180, 60)       # BGR green
_DEFECT_COLOUR = (40, 40, 230)   # BGR red


def _font_scale(img: np.ndarray) -> float:
    return max(0.35, min(img.shape[:2]) / 700.0)


def default_label_min_area(height: int, width: int, min_area: int) -> int:
    """Smallest region (pixels) that gets a box and a label: 4x the verdict's minimum area,
    and at least 1/2000 of the image (about a 35x35 px patch of a 1600x1600 photo)."""
    return int(max(4 * min_area, height * width / 2000))


def readable_overlay(img: np.ndarray, mask: np.ndarray, palette: Sequence[Sequence[int]],
                     regions: Sequence[dict], verdict: Optional[str] = None,
                     label_min_area: int = 0, max_labels: int = 8,
                     alpha: float = 0.55) -> np.ndarray:
    """The image with every defect pixel tinted, boxes and labels only on readable regions.

    Args:
        img (np.ndarray): (H, W, 3) uint8 BGR image.
        mask (np.ndarray): (H, W) class ids (0 = background, left untinted).
        palette (Sequence[Sequence[int]]): RGB colour per class id.
        regions (Sequence[dict]): the reported regions (``defect_regions``), largest first.
        verdict (str, optional): ``'defect'`` or ``'OK'``; written with the region count in
            the top-left corner. Default: None (no line).
        label_min_area (int): regions smaller than this (pixels) are tinted but get no box or
            label. Default: 0 (every region).
        max_labels (int): at most this many labels, the largest regions. Default: 8.
        alpha (float): opacity of the tint. Default: 0.55.

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR image.
    """
    ranked = sorted(regions, key=lambda r: -r["area"])
    labelled = [r for r in ranked if r["area"] >= label_min_area][:max_labels]
    out = overlay(img, mask, palette, labelled, None, alpha)
    if verdict is not None:
        text = verdict.upper()
        if regions:
            text += f": {len(regions)} region{'s' if len(regions) != 1 else ''}"
            if len(labelled) < len(regions):
                text += f" ({len(labelled)} labelled)"
        colour = _DEFECT_COLOUR if verdict.lower() == "defect" else _OK_COLOUR
        _text_box(out, text, (4, 4), colour, _font_scale(img) * 1.1)
    return out


def _text_box(img: np.ndarray, text: str, org, colour, scale: float) -> None:
    (w, h), base = cv2.getTextSize(text, _FONT, scale, 1)
    x, y = int(org[0]), int(org[1] + h + base)
    cv2.rectangle(img, (x, y - h - base), (x + w + 2, y + 1), colour, -1)
    cv2.putText(img, text, (x + 1, y - base // 2), _FONT, scale, (255, 255, 255), 1,
                cv2.LINE_AA)


def with_colour_bar(picture: np.ndarray, label: str, colormap: int = cv2.COLORMAP_JET,
                    vmin: float = 0.0, vmax: float = 1.0) -> np.ndarray:
    """``picture`` with a vertical colour scale on its right: ``vmax`` at the top, ``vmin`` at
    the bottom, three tick values and ``label`` written along the bar.

    Returns:
        np.ndarray: (H, W + margin, 3) uint8 BGR image (same height).
    """
    height = picture.shape[0]
    scale = _font_scale(picture) * 0.9
    (tw, th), base = cv2.getTextSize(f"{max(abs(vmin), abs(vmax)):.1f}", _FONT, scale, 1)
    bar_w = max(10, picture.shape[1] // 40)
    pad = max(3, th // 2)
    margin = np.full((height, bar_w + tw + th + base + 4 * pad, 3), 255, np.uint8)
    top, bottom = th + pad, height - th - pad
    if bottom - top >= 2:
        ramp = np.linspace(vmax, vmin, bottom - top, dtype=np.float32)[:, None]
        bar = colorize(np.repeat(ramp, bar_w, axis=1), colormap, vmin, vmax)
        margin[top:bottom, pad:pad + bar_w] = bar
        for value in (vmax, (vmin + vmax) / 2, vmin):
            y = int(round(top + (vmax - value) / max(vmax - vmin, 1e-12) * (bottom - top - 1)))
            cv2.line(margin, (pad + bar_w, y), (pad + bar_w + 3, y), (0, 0, 0), 1)
            cv2.putText(margin, f"{value:.1f}", (pad + bar_w + 5, min(height - 2, y + th // 2)),
                        _FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
    # the label, rotated along the bar, in the rightmost column
    (lw, lh), lbase = cv2.getTextSize(label, _FONT, scale, 1)
    strip = np.full((lh + lbase + 2, max(lw + 2, 1), 3), 255, np.uint8)
    cv2.putText(strip, label, (1, lh + 1), _FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
    strip = np.rot90(strip)  # reads bottom to top
    if strip.shape[0] <= height and strip.shape[1] <= margin.shape[1]:
        y0 = (height - strip.shape[0]) // 2
        margin[y0:y0 + strip.shape[0], -strip.shape[1]:] = strip
    return np.hstack([picture, margin])


def write_palette_png(path: str, mask: np.ndarray, palette: Sequence[Sequence[int]]) -> None:
    """Write a class-id mask as an indexed (palette) PNG.

    The pixel values are the class ids (``np.array(PIL.Image.open(path))``, MMSeg's
    ``LoadAnnotations``); image viewers show each class in its colour instead of an all-black
    0/1 picture. OpenCV's ``imread`` expands the palette to colours: read ids with PIL.
    """
    from PIL import Image

    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise ValueError(f"expected an (H, W) uint8 class-id mask, got {mask.shape} "
                         f"{mask.dtype}")
    flat = [int(v) for colour in palette for v in colour][:768]
    image = Image.fromarray(mask)  # mode "L"; putpalette makes it "P" with the same values
    image.putpalette(flat + [0] * (768 - len(flat)))
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    image.save(path, optimize=True)
