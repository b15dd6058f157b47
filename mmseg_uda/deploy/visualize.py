"""Pictures for inspectors, drawn the same by ``tools/predict.py`` and the ONNX runner.

* :func:`overlay` — the mask tinted over the image, boxes and labels on the given regions;
* :func:`readable_overlay` — the same, readable on real photos: a box and a label only for the
  regions large enough to read (at most ``max_labels``, the largest first) and one line per
  image with the verdict and the region count, so that a photo with a hundred 16-pixel specks
  does not drown in labels;
* :func:`heatmap` / :func:`colorize` — a [0, 1] map in colours, :func:`with_colour_bar` — with
  its colour scale and a name; :func:`panel` — pictures side by side;
* :func:`write_palette_png` — a mask whose pixel values are the class ids and which image
  viewers show in the class colours.

All drawing functions take and return uint8 BGR images (OpenCV order) and draw nothing in
place. numpy, OpenCV and zlib only (no PIL: the runner's requirements).
"""

from __future__ import annotations

import os
import os.path as osp
import struct
import zlib
from typing import Optional, Sequence

import cv2
import numpy as np

from .postprocess import DEFECT

_OK_COLOUR = (60, 180, 60)       # BGR green
_DEFECT_COLOUR = (40, 40, 230)   # BGR red


def _font_scale(img: np.ndarray) -> float:
    return max(0.35, min(img.shape[:2]) / 700.0)


def _label(img: np.ndarray, text: str, org, colour, scale: float) -> None:
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    # keep the label inside the image (a box at the right or top border)
    x = int(min(max(org[0], 0), max(img.shape[1] - w - 3, 0)))
    y = int(max(org[1], h + base))
    cv2.rectangle(img, (x, y - h - base), (x + w + 2, y + 1), colour, -1)
    cv2.putText(img, text, (x + 1, y - base // 2), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), 1, cv2.LINE_AA)


def overlay(img: np.ndarray, mask: np.ndarray, palette: Sequence[Sequence[int]],
            regions: Optional[Sequence[dict]] = None, verdict: Optional[str] = None,
            alpha: float = 0.55) -> np.ndarray:
    """The image with defect pixels tinted in their class colour, boxes and the verdict.

    Args:
        img (np.ndarray): (H, W, 3) uint8 BGR image.
        mask (np.ndarray): (H, W) class ids (0 = background, left untinted).
        palette (Sequence[Sequence[int]]): RGB colour per class id.
        regions (Sequence[dict], optional): regions from ``defect_regions`` to box and label
            with class and mean confidence. Default: None.
        verdict (str, optional): ``'defect'`` or ``'OK'``, written in the top-left corner.
            Default: None.
        alpha (float): opacity of the tint, in [0, 1]. Default: 0.55.

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR image.
    """
    out = img.copy()
    colours = np.array([[c[2], c[1], c[0]] for c in palette], dtype=np.float32)  # RGB -> BGR
    defect = mask > 0
    if defect.any():
        tint = colours[np.clip(mask, 0, len(colours) - 1)]
        out[defect] = ((1 - alpha) * out[defect] + alpha * tint[defect]).astype(np.uint8)
    scale = _font_scale(img)
    for r in regions or ():
        x, y, w, h = r["bbox"]
        colour = tuple(int(v) for v in colours[r["class_id"] % len(colours)])
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), colour, max(1, int(2 * scale)))
        text = r["class"] + (f" {r['mean_confidence']:.2f}" if "mean_confidence" in r else "")
        _label(out, text, (x, y - 2), colour, scale * 0.8)
    if verdict is not None:
        colour = _DEFECT_COLOUR if verdict == DEFECT else _OK_COLOUR
        _label(out, verdict.upper(), (4, 4), colour, scale * 1.3)
    return out


def colorize(values: np.ndarray, colormap: int = cv2.COLORMAP_JET, vmin: float = 0.0,
             vmax: float = 1.0) -> np.ndarray:
    """A colour-mapped (H, W, 3) uint8 BGR image of an (H, W) float map.

    Args:
        values (np.ndarray): (H, W) values.
        colormap (int): an OpenCV colour map (``cv2.COLORMAP_*``). Default: JET.
        vmin (float): value drawn with the first colour. Default: 0.
        vmax (float): value drawn with the last colour. Default: 1.
    """
    scaled = np.clip((np.asarray(values, np.float32) - vmin) / max(vmax - vmin, 1e-12), 0, 1)
    return cv2.applyColorMap((scaled * 255).round().astype(np.uint8), colormap)


def heatmap(img: np.ndarray, values: np.ndarray, alpha: float = 0.6,
            colormap: int = cv2.COLORMAP_JET) -> np.ndarray:
    """A [0, 1] map (defect probability, attention) colour-mapped over the grey image.

    Args:
        img (np.ndarray): (H, W, 3) uint8 BGR image.
        values (np.ndarray): (H, W) values in [0, 1].
        alpha (float): weight of the colour map against the image. Default: 0.6.
        colormap (int): OpenCV colour map. Default: JET (blue 0 -> red 1).

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR image.
    """
    grey = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return cv2.addWeighted(colorize(values, colormap), alpha, grey, 1 - alpha, 0)


def panel(images: Sequence[np.ndarray], titles: Sequence[str], gap: int = 4) -> np.ndarray:
    """Images of the same height side by side with a title strip above each.

    Args:
        images (Sequence[np.ndarray]): (H, W_i, 3) uint8 BGR images.
        titles (Sequence[str]): one title per image.
        gap (int): white space between images, in pixels. Default: 4.
    """
    height = images[0].shape[0]
    scale = _font_scale(images[0]) * 1.1
    strip = int(30 * scale) + 8
    cols = []
    for img, title in zip(images, titles):
        if img.shape[0] != height:
            raise ValueError(f"panel images must share a height, got {img.shape[0]} and "
                             f"{height}")
        top = np.full((strip, img.shape[1], 3), 255, np.uint8)
        cv2.putText(top, title, (4, strip - 8), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1,
                    cv2.LINE_AA)
        cols += [np.vstack([top, img]), np.full((height + strip, gap, 3), 255, np.uint8)]
    return np.hstack(cols[:-1])


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
        regions (Sequence[dict]): the reported regions (``defect_regions``).
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
        colour = _DEFECT_COLOUR if verdict.lower() == DEFECT else _OK_COLOUR
        scale = _font_scale(img) * 1.1
        (_, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        _label(out, text, (4, 4 + h + base), colour, scale)
    return out


def with_colour_bar(picture: np.ndarray, label: str, colormap: int = cv2.COLORMAP_JET,
                    vmin: float = 0.0, vmax: float = 1.0) -> np.ndarray:
    """``picture`` with a vertical colour scale on its right: ``vmax`` at the top, ``vmin`` at
    the bottom, three tick values and ``label`` written along the bar.

    Returns:
        np.ndarray: (H, W + margin, 3) uint8 BGR image (same height).
    """
    font = cv2.FONT_HERSHEY_SIMPLEX
    height = picture.shape[0]
    scale = _font_scale(picture) * 0.9
    (tw, th), base = cv2.getTextSize(f"{max(abs(vmin), abs(vmax)):.1f}", font, scale, 1)
    bar_w = max(10, picture.shape[1] // 40)
    pad = max(3, th // 2)
    margin = np.full((height, bar_w + tw + th + base + 4 * pad, 3), 255, np.uint8)
    top, bottom = th + pad, height - th - pad
    if bottom - top >= 2:
        ramp = np.linspace(vmax, vmin, bottom - top, dtype=np.float32)[:, None]
        margin[top:bottom, pad:pad + bar_w] = colorize(np.repeat(ramp, bar_w, axis=1),
                                                       colormap, vmin, vmax)
        for value in (vmax, (vmin + vmax) / 2, vmin):
            y = int(round(top + (vmax - value) / max(vmax - vmin, 1e-12) * (bottom - top - 1)))
            cv2.line(margin, (pad + bar_w, y), (pad + bar_w + 3, y), (0, 0, 0), 1)
            cv2.putText(margin, f"{value:.1f}", (pad + bar_w + 5, min(height - 2, y + th // 2)),
                        font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    # the label, rotated along the bar, in the rightmost column
    (lw, lh), lbase = cv2.getTextSize(label, font, scale, 1)
    strip = np.full((lh + lbase + 2, max(lw + 2, 1), 3), 255, np.uint8)
    cv2.putText(strip, label, (1, lh + 1), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    strip = np.rot90(strip)  # reads bottom to top
    if strip.shape[0] <= height and strip.shape[1] <= margin.shape[1]:
        y0 = (height - strip.shape[0]) // 2
        margin[y0:y0 + strip.shape[0], -strip.shape[1]:] = strip
    return np.hstack([picture, margin])


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def palette_png_bytes(mask: np.ndarray, palette: Sequence[Sequence[int]]) -> bytes:
    """The bytes of an 8-bit indexed (palette) PNG whose pixel values are ``mask``.

    Args:
        mask (np.ndarray): (H, W) uint8 class ids.
        palette (Sequence[Sequence[int]]): RGB colour per class id; ids beyond it are black.

    Raises:
        ValueError: when ``mask`` is not an (H, W) uint8 array or the palette has more than 256
            colours.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.dtype != np.uint8 or 0 in mask.shape:
        raise ValueError(f"expected a non-empty (H, W) uint8 class-id mask, got {mask.shape} "
                         f"{mask.dtype}")
    if len(palette) > 256:
        raise ValueError(f"a palette PNG holds at most 256 colours, got {len(palette)}")
    colours = np.zeros((max(len(palette), int(mask.max()) + 1), 3), np.uint8)
    colours[:len(palette)] = np.asarray(palette, np.uint8).reshape(-1, 3)
    height, width = mask.shape
    rows = np.hstack([np.zeros((height, 1), np.uint8), mask])  # filter type 0 on every row
    return (b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0))
            + _png_chunk(b"PLTE", colours.tobytes())
            + _png_chunk(b"IDAT", zlib.compress(np.ascontiguousarray(rows).tobytes(), 6))
            + _png_chunk(b"IEND", b""))


def write_palette_png(path: str, mask: np.ndarray, palette: Sequence[Sequence[int]]) -> None:
    """Write a class-id mask as an indexed (palette) PNG (:func:`palette_png_bytes`).

    The pixel values are the class ids (``np.array(PIL.Image.open(path))``, MMSeg's
    ``LoadAnnotations``); image viewers show each class in its colour instead of an all-black
    0/1 picture. OpenCV's ``imread`` expands the palette to colours: read ids with PIL.
    """
    data = palette_png_bytes(mask, palette)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
